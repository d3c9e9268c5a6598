using System.Globalization;
using System.Runtime.InteropServices;

namespace NativeReload.Validation;

/// <summary>
/// Checks PE/COFF images (PE32 and PE32+): DOS and PE headers, machine, the DLL flag, and that the section table,
/// every section's raw data and the certificate table lie inside the image.
/// </summary>
internal static class PeImageChecker
{
    internal const int DosHeaderSize = 64;
    internal const int LfanewOffset = 0x3C;
    internal const int CoffHeaderSize = 20;
    internal const int SectionHeaderSize = 40;
    internal const ushort Pe32Magic = 0x10B;
    internal const ushort Pe32PlusMagic = 0x20B;
    internal const ushort DllCharacteristic = 0x2000;

    private const int SecurityDirectoryIndex = 4;
    private static readonly IFormatProvider Inv = CultureInfo.InvariantCulture;

    /// <summary>Checks an image that starts with "MZ".</summary>
    public static ImageCheckResult Check(ReadOnlySpan<byte> image, Architecture expected)
    {
        const BinaryFormat F = BinaryFormat.Pe;
        int length = image.Length;
        if (length < DosHeaderSize)
        {
            return ImageCheckResult.Incomplete(F, string.Create(Inv, $"the DOS (MZ) header needs {DosHeaderSize} bytes but the file has {length} bytes"));
        }

        ImageBytes.TryReadUInt32(image, LfanewOffset, false, out uint lfanew);
        if (!ImageBytes.Fits(lfanew, 4, length))
        {
            return ImageCheckResult.Incomplete(F, string.Create(Inv, $"the PE signature at e_lfanew {lfanew} ends at byte {ImageBytes.End(lfanew, 4)} but the file has {length} bytes"));
        }

        ImageBytes.TryReadUInt32(image, lfanew, false, out uint signature);
        if (signature != 0x00004550)
        {
            return ImageCheckResult.NotALibrary(F, string.Create(Inv, $"an MZ (DOS) file without a PE signature at e_lfanew {lfanew}, expected a PE DLL"));
        }

        ulong coff = (ulong)lfanew + 4;
        if (!ImageBytes.Fits(coff, CoffHeaderSize, length))
        {
            return ImageCheckResult.Incomplete(F, string.Create(Inv, $"the COFF file header ends at byte {ImageBytes.End(coff, CoffHeaderSize)} but the file has {length} bytes"));
        }

        ImageBytes.TryReadUInt16(image, coff, false, out ushort machine);
        ImageBytes.TryReadUInt16(image, coff + 2, false, out ushort sectionCount);
        ImageBytes.TryReadUInt16(image, coff + 16, false, out ushort optionalHeaderSize);
        ImageBytes.TryReadUInt16(image, coff + 18, false, out ushort characteristics);

        ushort wantMachine = ExpectedMachine(expected);
        if (wantMachine == 0 || machine != wantMachine)
        {
            string suffix = wantMachine == 0 ? ", which has no PE machine type" : string.Empty;
            return ImageCheckResult.WrongArchitecture(F, string.Create(Inv, $"built for {MachineName(machine)} (PE machine 0x{machine:X4}), this process is {expected}{suffix}"));
        }

        if ((characteristics & DllCharacteristic) == 0)
        {
            return ImageCheckResult.NotALibrary(F, string.Create(Inv, $"a PE executable, not a DLL (Characteristics 0x{characteristics:X4} lacks IMAGE_FILE_DLL 0x2000)"));
        }

        ulong optional = coff + CoffHeaderSize;
        if (optionalHeaderSize < 2)
        {
            return ImageCheckResult.NotALibrary(F, string.Create(Inv, $"a PE DLL without an optional header (SizeOfOptionalHeader {optionalHeaderSize})"));
        }

        if (!ImageBytes.Fits(optional, optionalHeaderSize, length))
        {
            return ImageCheckResult.Incomplete(F, string.Create(Inv, $"the optional header ends at byte {ImageBytes.End(optional, optionalHeaderSize)} but the file has {length} bytes"));
        }

        ImageBytes.TryReadUInt16(image, optional, false, out ushort magic);
        bool wantPlus = expected is Architecture.X64 or Architecture.Arm64;
        if (magic is not (Pe32Magic or Pe32PlusMagic))
        {
            return ImageCheckResult.NotALibrary(F, string.Create(Inv, $"malformed PE: optional header magic 0x{magic:X}, expected 0x10B (PE32) or 0x20B (PE32+)"));
        }

        if ((magic == Pe32PlusMagic) != wantPlus)
        {
            return ImageCheckResult.NotALibrary(F, string.Create(Inv, $"malformed PE: machine {MachineName(machine)} with a {(magic == Pe32PlusMagic ? "PE32+" : "PE32")} optional header, expected {(wantPlus ? "PE32+" : "PE32")}"));
        }

        // Data directories: the security (certificate) entry holds a file offset, not an RVA.
        uint directoriesOffset = magic == Pe32PlusMagic ? 112u : 96u;
        uint rvaCountOffset = directoriesOffset - 4;
        ulong securityEntry = directoriesOffset + (SecurityDirectoryIndex * 8u);
        if (optionalHeaderSize >= securityEntry + 8
            && ImageBytes.TryReadUInt32(image, optional + rvaCountOffset, false, out uint rvaCount) && rvaCount > SecurityDirectoryIndex)
        {
            ImageBytes.TryReadUInt32(image, optional + securityEntry, false, out uint certOffset);
            ImageBytes.TryReadUInt32(image, optional + securityEntry + 4, false, out uint certSize);
            if (certOffset != 0 && certSize != 0 && !ImageBytes.Fits(certOffset, certSize, length))
            {
                return ImageCheckResult.Incomplete(F, string.Create(Inv, $"the certificate table (offset {certOffset}, {certSize} bytes) ends at byte {ImageBytes.End(certOffset, certSize)} but the file has {length} bytes"));
            }
        }

        ulong sectionTable = optional + optionalHeaderSize;
        UInt128 sectionTableEnd = ImageBytes.TableEnd(sectionTable, sectionCount, SectionHeaderSize);
        if (sectionTableEnd > (ulong)length)
        {
            return ImageCheckResult.Incomplete(F, string.Create(Inv, $"the section table ({sectionCount} sections) ends at byte {sectionTableEnd} but the file has {length} bytes"));
        }

        for (uint i = 0; i < sectionCount; i++)
        {
            ulong entry = sectionTable + (i * (ulong)SectionHeaderSize);
            ImageBytes.TryReadUInt32(image, entry + 16, false, out uint rawSize);
            ImageBytes.TryReadUInt32(image, entry + 20, false, out uint rawPointer);
            if (rawSize != 0 && !ImageBytes.Fits(rawPointer, rawSize, length))
            {
                string name = ImageBytes.ReadFixedName(image, entry, 8);
                return ImageCheckResult.Incomplete(F, string.Create(Inv, $"section {i} ({name}) raw data (offset {rawPointer}, {rawSize} bytes) ends at byte {ImageBytes.End(rawPointer, rawSize)} but the file has {length} bytes"));
            }
        }

        return ImageCheckResult.Ok(F);
    }

    /// <summary>Returns the COFF machine an architecture needs, or 0 when it has no PE form.</summary>
    internal static ushort ExpectedMachine(Architecture architecture) => architecture switch
    {
        Architecture.X64 => 0x8664,
        Architecture.Arm64 => 0xAA64,
        Architecture.X86 => 0x014C,
        Architecture.Arm or Architecture.Armv6 => 0x01C4,
        _ => 0,
    };

    private static string MachineName(ushort machine) => machine switch
    {
        0x014C => "x86 (i386)",
        0x8664 => "x64 (AMD64)",
        0xAA64 => "arm64",
        0xA641 => "arm64ec",
        0x01C0 => "arm",
        0x01C4 => "arm (ARMNT)",
        0x0200 => "ia64",
        0x5064 => "riscv64",
        0x6264 => "loongarch64",
        0x0EBC => "EFI byte code",
        0x0000 => "an unspecified machine",
        _ => "an unknown machine",
    };
}
