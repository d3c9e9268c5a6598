using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace NativeReload.Validation;

/// <summary>
/// Checks thin Mach-O images (32-bit and 64-bit) and universal ("fat") binaries: CPU type, file type, and that the
/// load commands, every segment's file range and the code signature lie inside the image (or slice).
/// </summary>
internal static class MachOImageChecker
{
    internal const uint FatMagic = 0xCAFEBABE;
    internal const uint FatMagic64 = 0xCAFEBABF;
    internal const uint MaxFatArchitectures = 30;
    internal const uint MhMagic64 = 0xFEEDFACF;
    internal const uint MhMagic = 0xFEEDFACE;
    internal const int Header64Size = 32;
    internal const int Header32Size = 28;
    internal const int FatHeaderSize = 8;
    internal const int FatArchSize = 20;
    internal const int FatArch64Size = 32;
    internal const uint CpuTypeX86 = 7;
    internal const uint CpuTypeX8664 = 0x01000007;
    internal const uint CpuTypeArm = 12;
    internal const uint CpuTypeArm64 = 0x0100000C;
    internal const uint LcSegment = 0x1;
    internal const uint LcSegment64 = 0x19;
    internal const uint LcCodeSignature = 0x1D;
    internal const uint MhDylib = 6;
    internal const uint MhBundle = 8;

    private const uint CpuArch64Flag = 0x01000000;
    private const uint CpuSubtypeMask = 0x00FFFFFF;
    private const uint CpuSubtypeArm64E = 2;
    private static readonly IFormatProvider Inv = CultureInfo.InvariantCulture;

    /// <summary>Checks an image that starts with a thin Mach-O magic.</summary>
    public static ImageCheckResult Check(ReadOnlySpan<byte> image, Architecture expected) =>
        CheckThin(image, expected, BinaryFormat.MachO, sliceName: null);

    /// <summary>Checks a universal binary: picks the slice for <paramref name="expected"/> and checks it as Mach-O.</summary>
    public static ImageCheckResult CheckUniversal(ReadOnlySpan<byte> image, Architecture expected)
    {
        const BinaryFormat F = BinaryFormat.MachOUniversal;
        int length = image.Length;
        if (length < FatHeaderSize)
        {
            return ImageCheckResult.Incomplete(F, string.Create(Inv, $"the universal header needs {FatHeaderSize} bytes but the file has {length} bytes"));
        }

        bool fat64 = BinaryPrimitives.ReadUInt32BigEndian(image) == FatMagic64;
        uint count = BinaryPrimitives.ReadUInt32BigEndian(image[4..]);
        if (count > MaxFatArchitectures)
        {
            return ImageCheckResult.NotALibrary(BinaryFormat.Unknown, string.Create(Inv, $"starts with ca fe ba be but declares {count} slices (looks like a Java class file), expected a Mach-O header"));
        }

        if (count == 0)
        {
            return ImageCheckResult.NotALibrary(F, "a universal binary with no slices");
        }

        int entrySize = fat64 ? FatArch64Size : FatArchSize;
        UInt128 tableEnd = ImageBytes.TableEnd(FatHeaderSize, count, (ulong)entrySize);
        if (tableEnd > (ulong)length)
        {
            return ImageCheckResult.Incomplete(F, string.Create(Inv, $"the universal header's slice table ends at byte {tableEnd} but the file has {length} bytes"));
        }

        uint wantCpu = ExpectedCpuType(expected);
        int chosen = -1;
        bool chosenIsArm64E = false;
        for (int i = 0; i < (int)count; i++)
        {
            ReadFatArch(image, i, fat64, out uint cpu, out uint subtype, out _, out _);
            if (wantCpu == 0 || cpu != wantCpu)
            {
                continue;
            }

            // Prefer a plain slice over arm64e (arm64e code only loads into arm64e processes).
            bool isArm64E = IsArm64E(cpu, subtype);
            if (chosen < 0 || (chosenIsArm64E && !isArm64E))
            {
                chosen = i;
                chosenIsArm64E = isArm64E;
            }
        }

        if (chosen < 0)
        {
            return ImageCheckResult.WrongArchitecture(F, string.Create(Inv, $"universal binary with slices {SliceList(image, (int)count, fat64)}; this process is {expected}"));
        }

        // Every slice must be present: a slice that ends beyond the file means the file is still being written.
        for (int i = 0; i < (int)count; i++)
        {
            ReadFatArch(image, i, fat64, out uint cpu, out uint subtype, out ulong offset, out ulong size);
            if (!ImageBytes.Fits(offset, size, length))
            {
                return ImageCheckResult.Incomplete(F, string.Create(Inv, $"the {CpuName(cpu, subtype)} slice (offset {offset}, {size} bytes) ends at byte {ImageBytes.End(offset, size)} but the file has {length} bytes"));
            }
        }

        ReadFatArch(image, chosen, fat64, out uint sliceCpu, out uint sliceSub, out ulong sliceOffset, out ulong sliceSize);
        string sliceName = CpuName(sliceCpu, sliceSub);
        ReadOnlySpan<byte> slice = image.Slice((int)sliceOffset, (int)sliceSize);
        if (LibraryImageInspector.DetectFormat(slice) != BinaryFormat.MachO)
        {
            return ImageCheckResult.NotALibrary(F, string.Create(Inv, $"the {sliceName} slice of the universal binary starts with {ImageBytes.FirstBytesHex(slice)}, expected a Mach-O header"));
        }

        ImageCheckResult inner = CheckThin(slice, expected, F, sliceName);
        return inner.IsOk ? ImageCheckResult.Ok(F) : inner;
    }

    /// <summary>Returns the Mach-O CPU type an architecture needs, or 0 when it has no Mach-O form.</summary>
    internal static uint ExpectedCpuType(Architecture architecture) => architecture switch
    {
        Architecture.X64 => CpuTypeX8664,
        Architecture.Arm64 => CpuTypeArm64,
        Architecture.X86 => CpuTypeX86,
        Architecture.Arm or Architecture.Armv6 => CpuTypeArm,
        _ => 0,
    };

    /// <summary>Checks a thin Mach-O image, which is a whole file or one slice of a universal binary.</summary>
    /// <param name="image">The thin image (the slice's bytes for a universal binary; its offsets are slice-relative).</param>
    /// <param name="expected">The architecture of the process.</param>
    /// <param name="f">The format to report: <see cref="BinaryFormat.MachO"/> or <see cref="BinaryFormat.MachOUniversal"/>.</param>
    /// <param name="sliceName">The slice's architecture name inside a universal binary, or null for a thin file.</param>
    /// <returns>The verdict.</returns>
    private static ImageCheckResult CheckThin(ReadOnlySpan<byte> image, Architecture expected, BinaryFormat f, string? sliceName)
    {
        int length = image.Length;
        uint rawMagic = BinaryPrimitives.ReadUInt32LittleEndian(image);
        bool big = rawMagic is not (MhMagic64 or MhMagic);
        bool is64 = rawMagic is MhMagic64 || BinaryPrimitives.ReverseEndianness(rawMagic) == MhMagic64;
        int headerSize = is64 ? Header64Size : Header32Size;
        if (length < headerSize)
        {
            return ImageCheckResult.Incomplete(f, string.Create(Inv, $"the Mach-O header needs {headerSize} bytes but the {Scope(sliceName)} has {length} bytes"));
        }

        ImageBytes.TryReadUInt32(image, 4, big, out uint cpu);
        ImageBytes.TryReadUInt32(image, 8, big, out uint subtype);
        ImageBytes.TryReadUInt32(image, 12, big, out uint fileType);
        ImageBytes.TryReadUInt32(image, 16, big, out uint commandCount);
        ImageBytes.TryReadUInt32(image, 20, big, out uint commandsSize);

        uint wantCpu = ExpectedCpuType(expected);
        bool wantIs64 = (wantCpu & CpuArch64Flag) != 0;
        if (wantCpu == 0 || cpu != wantCpu || is64 != wantIs64 || big)
        {
            string notes = (is64 != wantIs64 ? (is64 ? ", 64-bit header" : ", 32-bit header") : string.Empty) + (big ? ", big-endian" : string.Empty);
            string suffix = wantCpu == 0 ? ", which has no Mach-O CPU type" : string.Empty;
            return ImageCheckResult.WrongArchitecture(f, string.Create(Inv, $"built for {CpuName(cpu, subtype)} (Mach-O cputype 0x{cpu:X8}{notes}), this process is {expected}{suffix}"));
        }

        if (fileType is not (MhDylib or MhBundle))
        {
            return ImageCheckResult.NotALibrary(f, string.Create(Inv, $"Mach-O file type {FileTypeName(fileType)}, expected MH_DYLIB (a dylib) or MH_BUNDLE (a bundle)"));
        }

        ulong commandsEnd = (ulong)headerSize + commandsSize;
        if (commandsEnd > (ulong)length)
        {
            return ImageCheckResult.Incomplete(f, string.Create(Inv, $"load commands end at byte {commandsEnd} but the {Scope(sliceName)} has {length} bytes"));
        }

        ulong position = (ulong)headerSize;
        for (uint i = 0; i < commandCount; i++)
        {
            if (position + 8 > commandsEnd)
            {
                return ImageCheckResult.NotALibrary(f, string.Create(Inv, $"malformed Mach-O: load command {i} of {commandCount} starts at byte {position}, outside the {commandsSize} bytes of sizeofcmds"));
            }

            ImageBytes.TryReadUInt32(image, position, big, out uint command);
            ImageBytes.TryReadUInt32(image, position + 4, big, out uint commandSize);
            if (commandSize < 8 || position + commandSize > commandsEnd)
            {
                return ImageCheckResult.NotALibrary(f, string.Create(Inv, $"malformed Mach-O: load command {i} (0x{command:X}) has cmdsize {commandSize}, which does not fit in sizeofcmds"));
            }

            ImageCheckResult? problem = command switch
            {
                LcSegment64 => CheckSegment(image, position, commandSize, is64: true, big, f, sliceName),
                LcSegment => CheckSegment(image, position, commandSize, is64: false, big, f, sliceName),
                LcCodeSignature => CheckCodeSignature(image, position, commandSize, big, f, sliceName),
                _ => null,
            };
            if (problem is not null)
            {
                return problem;
            }

            position += commandSize;
        }

        return ImageCheckResult.Ok(f);
    }

    private static ImageCheckResult? CheckSegment(ReadOnlySpan<byte> image, ulong position, uint commandSize, bool is64, bool big, BinaryFormat f, string? sliceName)
    {
        uint minimum = is64 ? 72u : 56u;
        if (commandSize < minimum)
        {
            return ImageCheckResult.NotALibrary(f, string.Create(Inv, $"malformed Mach-O: segment command with cmdsize {commandSize}, expected at least {minimum}"));
        }

        ulong fileOffset, fileSize;
        if (is64)
        {
            ImageBytes.TryReadUInt64(image, position + 40, big, out fileOffset);
            ImageBytes.TryReadUInt64(image, position + 48, big, out fileSize);
        }
        else
        {
            ImageBytes.TryReadUInt32(image, position + 32, big, out uint offset32);
            ImageBytes.TryReadUInt32(image, position + 36, big, out uint size32);
            fileOffset = offset32;
            fileSize = size32;
        }

        if (ImageBytes.Fits(fileOffset, fileSize, image.Length))
        {
            return null;
        }

        string name = ImageBytes.ReadFixedName(image, position + 8, 16);
        return ImageCheckResult.Incomplete(f, string.Create(Inv, $"segment {name} (file offset {fileOffset}, {fileSize} bytes) ends at byte {ImageBytes.End(fileOffset, fileSize)} but the {Scope(sliceName)} has {image.Length} bytes"));
    }

    private static ImageCheckResult? CheckCodeSignature(ReadOnlySpan<byte> image, ulong position, uint commandSize, bool big, BinaryFormat f, string? sliceName)
    {
        if (commandSize < 16)
        {
            return ImageCheckResult.NotALibrary(f, string.Create(Inv, $"malformed Mach-O: LC_CODE_SIGNATURE with cmdsize {commandSize}, expected 16"));
        }

        ImageBytes.TryReadUInt32(image, position + 8, big, out uint dataOffset);
        ImageBytes.TryReadUInt32(image, position + 12, big, out uint dataSize);
        return ImageBytes.Fits(dataOffset, dataSize, image.Length)
            ? null
            : ImageCheckResult.Incomplete(f, string.Create(Inv, $"the code signature (offset {dataOffset}, {dataSize} bytes) ends at byte {ImageBytes.End(dataOffset, dataSize)} but the {Scope(sliceName)} has {image.Length} bytes"));
    }

    /// <summary>Names what a range must fit in: "file", or e.g. "arm64 slice" (built only for failure reasons).</summary>
    private static string Scope(string? sliceName) => sliceName is null ? "file" : sliceName + " slice";

    private static void ReadFatArch(ReadOnlySpan<byte> image, int index, bool fat64, out uint cpu, out uint subtype, out ulong offset, out ulong size)
    {
        ulong entry = FatHeaderSize + ((ulong)index * (ulong)(fat64 ? FatArch64Size : FatArchSize));
        ImageBytes.TryReadUInt32(image, entry, true, out cpu);
        ImageBytes.TryReadUInt32(image, entry + 4, true, out subtype);
        if (fat64)
        {
            ImageBytes.TryReadUInt64(image, entry + 8, true, out offset);
            ImageBytes.TryReadUInt64(image, entry + 16, true, out size);
        }
        else
        {
            ImageBytes.TryReadUInt32(image, entry + 8, true, out uint offset32);
            ImageBytes.TryReadUInt32(image, entry + 12, true, out uint size32);
            offset = offset32;
            size = size32;
        }
    }

    private static string SliceList(ReadOnlySpan<byte> image, int count, bool fat64)
    {
        var names = new StringBuilder();
        for (int i = 0; i < count; i++)
        {
            ReadFatArch(image, i, fat64, out uint cpu, out uint subtype, out _, out _);
            if (i > 0)
            {
                names.Append(", ");
            }

            names.Append(CpuName(cpu, subtype));
        }

        return names.ToString();
    }

    private static bool IsArm64E(uint cpu, uint subtype) => cpu == CpuTypeArm64 && (subtype & CpuSubtypeMask) == CpuSubtypeArm64E;

    private static string CpuName(uint cpu, uint subtype) => cpu switch
    {
        CpuTypeX8664 => "x86_64",
        CpuTypeArm64 => IsArm64E(cpu, subtype) ? "arm64e" : "arm64",
        CpuTypeX86 => "i386",
        CpuTypeArm => "arm",
        0x0200000C => "arm64_32",
        18 => "ppc",
        0x01000012 => "ppc64",
        _ => string.Create(CultureInfo.InvariantCulture, $"cputype 0x{cpu:X8}"),
    };

    private static string FileTypeName(uint fileType) => fileType switch
    {
        1 => "MH_OBJECT (an object file)",
        2 => "MH_EXECUTE (an executable)",
        4 => "MH_CORE (a core dump)",
        7 => "MH_DYLINKER (the dynamic linker)",
        9 => "MH_DYLIB_STUB (a stub library)",
        10 => "MH_DSYM (debug symbols)",
        11 => "MH_KEXT_BUNDLE (a kernel extension)",
        _ => string.Create(CultureInfo.InvariantCulture, $"{fileType} (unknown)"),
    };
}
