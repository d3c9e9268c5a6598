using System.Globalization;
using System.Runtime.InteropServices;

namespace NativeReload.Validation;

/// <summary>
/// Checks ELF images (ELF32 and ELF64, either byte order): identification, architecture, <c>e_type</c> and that
/// every table and file-backed range the headers declare lies inside the image.
/// </summary>
internal static class ElfImageChecker
{
    internal const int IdentSize = 16;
    internal const int Header32Size = 52;
    internal const int Header64Size = 64;
    internal const int ProgramHeader32Size = 32;
    internal const int ProgramHeader64Size = 56;
    internal const int SectionHeader32Size = 40;
    internal const int SectionHeader64Size = 64;

    private const byte ElfClass32 = 1;
    private const byte ElfClass64 = 2;
    private const byte ElfDataLittle = 1;
    private const byte ElfDataBig = 2;
    private const ushort EtDyn = 3;
    private const uint PtLoad = 1;
    private const uint ShtNoBits = 8;
    private const ushort PnXNum = 0xFFFF;

    private static readonly IFormatProvider Inv = CultureInfo.InvariantCulture;

    /// <summary>Checks an image that starts with the ELF magic.</summary>
    public static ImageCheckResult Check(ReadOnlySpan<byte> image, Architecture expected)
    {
        const BinaryFormat F = BinaryFormat.Elf;
        int length = image.Length;
        if (length < IdentSize)
        {
            return ImageCheckResult.Incomplete(F, string.Create(Inv, $"the ELF identification needs {IdentSize} bytes but the file has {length} bytes"));
        }

        byte elfClass = image[4];
        byte data = image[5];
        if (elfClass is not (ElfClass32 or ElfClass64))
        {
            return ImageCheckResult.NotALibrary(F, string.Create(Inv, $"malformed ELF header: EI_CLASS is {elfClass}, expected 1 (ELFCLASS32) or 2 (ELFCLASS64)"));
        }

        if (data is not (ElfDataLittle or ElfDataBig))
        {
            return ImageCheckResult.NotALibrary(F, string.Create(Inv, $"malformed ELF header: EI_DATA is {data}, expected 1 (little-endian) or 2 (big-endian)"));
        }

        if (image[6] != 1)
        {
            return ImageCheckResult.NotALibrary(F, string.Create(Inv, $"unsupported ELF version {image[6]} in EI_VERSION, expected 1"));
        }

        bool is64 = elfClass == ElfClass64;
        bool big = data == ElfDataBig;
        int headerSize = is64 ? Header64Size : Header32Size;
        if (length < headerSize)
        {
            return ImageCheckResult.Incomplete(F, string.Create(Inv, $"the ELF{(is64 ? 64 : 32)} header needs {headerSize} bytes but the file has {length} bytes"));
        }

        ImageBytes.TryReadUInt16(image, 16, big, out ushort type);
        ImageBytes.TryReadUInt16(image, 18, big, out ushort machine);
        ImageBytes.TryReadUInt32(image, 20, big, out uint version);

        ImageCheckResult? archProblem = CheckArchitecture(machine, is64, big, expected);
        if (archProblem is not null)
        {
            return archProblem;
        }

        if (type != EtDyn)
        {
            return ImageCheckResult.NotALibrary(F, string.Create(Inv, $"ELF type {TypeName(type)}, expected ET_DYN (a shared object)"));
        }

        if (version != 1)
        {
            return ImageCheckResult.NotALibrary(F, string.Create(Inv, $"unsupported ELF version {version} in e_version, expected 1"));
        }

        // Header fields whose position depends on the class.
        ulong phoff, shoff;
        ushort phentsize, phnumField, shentsize, shnumField, shstrndxField;
        if (is64)
        {
            ImageBytes.TryReadUInt64(image, 32, big, out phoff);
            ImageBytes.TryReadUInt64(image, 40, big, out shoff);
            ImageBytes.TryReadUInt16(image, 54, big, out phentsize);
            ImageBytes.TryReadUInt16(image, 56, big, out phnumField);
            ImageBytes.TryReadUInt16(image, 58, big, out shentsize);
            ImageBytes.TryReadUInt16(image, 60, big, out shnumField);
            ImageBytes.TryReadUInt16(image, 62, big, out shstrndxField);
        }
        else
        {
            ImageBytes.TryReadUInt32(image, 28, big, out uint phoff32);
            ImageBytes.TryReadUInt32(image, 32, big, out uint shoff32);
            phoff = phoff32;
            shoff = shoff32;
            ImageBytes.TryReadUInt16(image, 42, big, out phentsize);
            ImageBytes.TryReadUInt16(image, 44, big, out phnumField);
            ImageBytes.TryReadUInt16(image, 46, big, out shentsize);
            ImageBytes.TryReadUInt16(image, 48, big, out shnumField);
            ImageBytes.TryReadUInt16(image, 50, big, out shstrndxField);
        }

        int phStructSize = is64 ? ProgramHeader64Size : ProgramHeader32Size;
        int shStructSize = is64 ? SectionHeader64Size : SectionHeader32Size;

        // Section header table: its first entry may carry extended counts (e_shnum == 0, e_phnum == PN_XNUM).
        ulong shnum = shnumField;
        ulong phnum = phnumField;
        ulong shstrndx = shstrndxField;
        if (shoff != 0)
        {
            if (shentsize < shStructSize)
            {
                return ImageCheckResult.NotALibrary(F, string.Create(Inv, $"malformed ELF header: e_shentsize is {shentsize}, a section header needs {shStructSize} bytes"));
            }

            if (shnumField == 0 || phnumField == PnXNum || shstrndxField == 0xFFFF)
            {
                if (!ImageBytes.Fits(shoff, shentsize, length))
                {
                    return TableIncomplete("the first section header", shoff, 1, shentsize, length);
                }

                ReadSection(image, shoff, is64, big, out _, out _, out _, out ulong size0, out uint link0, out uint info0);
                if (shnumField == 0)
                {
                    shnum = size0;
                }

                if (phnumField == PnXNum)
                {
                    phnum = info0;
                }

                if (shstrndxField == 0xFFFF)
                {
                    shstrndx = link0;
                }
            }

            if (!ImageBytes.Fits(shoff, 0, length) || ImageBytes.TableEnd(shoff, shnum, shentsize) > (ulong)length)
            {
                return TableIncomplete("section headers", shoff, shnum, shentsize, length);
            }
        }
        else
        {
            shnum = 0;
        }

        // Program header table: glibc requires the exact entry size and at least one PT_LOAD.
        if (phnum == 0 || phoff == 0)
        {
            return ImageCheckResult.NotALibrary(F, "ELF shared object without program headers, nothing to load");
        }

        if (phentsize != phStructSize)
        {
            return ImageCheckResult.NotALibrary(F, string.Create(Inv, $"malformed ELF header: e_phentsize is {phentsize}, expected {phStructSize}"));
        }

        if (ImageBytes.TableEnd(phoff, phnum, phentsize) > (ulong)length)
        {
            return TableIncomplete("program headers", phoff, phnum, phentsize, length);
        }

        int loadCount = 0;
        for (ulong i = 0; i < phnum; i++)
        {
            ulong entry = phoff + (i * phentsize);
            ImageBytes.TryReadUInt32(image, entry, big, out uint pType);
            if (pType != PtLoad)
            {
                continue;
            }

            loadCount++;
            ImageBytes.TryReadNative(image, entry + (is64 ? 8UL : 4UL), is64, big, out ulong pOffset);
            ImageBytes.TryReadNative(image, entry + (is64 ? 32UL : 16UL), is64, big, out ulong pFilesz);
            if (!ImageBytes.Fits(pOffset, pFilesz, length))
            {
                return ImageCheckResult.Incomplete(F, string.Create(Inv, $"loadable segment {i} (PT_LOAD at offset {pOffset}, {pFilesz} bytes) ends at byte {ImageBytes.End(pOffset, pFilesz)} but the file has {length} bytes"));
            }
        }

        if (loadCount == 0)
        {
            return ImageCheckResult.NotALibrary(F, "ELF shared object without a loadable (PT_LOAD) segment");
        }

        for (ulong i = 0; i < shnum; i++)
        {
            ulong entry = shoff + (i * shentsize);
            ReadSection(image, entry, is64, big, out uint nameOffset, out uint shType, out ulong shOffset, out ulong shSize, out _, out _);
            if (shType == ShtNoBits || ImageBytes.Fits(shOffset, shSize, length))
            {
                continue;
            }

            string name = SectionName(image, shoff, shnum, shentsize, shstrndx, is64, big, nameOffset);
            return ImageCheckResult.Incomplete(F, string.Create(Inv, $"section {i} ({name}) ends at byte {ImageBytes.End(shOffset, shSize)} but the file has {length} bytes"));
        }

        return ImageCheckResult.Ok(F);
    }

    /// <summary>Returns the ELF class, machine and byte order an architecture needs, or false when it has no ELF form.</summary>
    internal static bool TryGetExpected(Architecture architecture, out bool is64, out ushort machine, out bool bigEndian)
    {
        (is64, machine, bigEndian, bool known) = architecture switch
        {
            Architecture.X64 => (true, (ushort)62, false, true),
            Architecture.Arm64 => (true, (ushort)183, false, true),
            Architecture.X86 => (false, (ushort)3, false, true),
            Architecture.Arm or Architecture.Armv6 => (false, (ushort)40, false, true),
            Architecture.RiscV64 => (true, (ushort)243, false, true),
            Architecture.LoongArch64 => (true, (ushort)258, false, true),
            Architecture.S390x => (true, (ushort)22, true, true),
            Architecture.Ppc64le => (true, (ushort)21, false, true),
            _ => (false, (ushort)0, false, false),
        };
        return known;
    }

    private static ImageCheckResult? CheckArchitecture(ushort machine, bool is64, bool big, Architecture expected)
    {
        string found = MachineName(machine);
        if (!TryGetExpected(expected, out bool wantIs64, out ushort wantMachine, out bool wantBig))
        {
            return ImageCheckResult.WrongArchitecture(BinaryFormat.Elf, string.Create(Inv, $"built for {found} (ELF e_machine {machine}), this process is {expected}, which has no ELF machine type"));
        }

        if (machine == wantMachine && is64 == wantIs64 && big == wantBig)
        {
            return null;
        }

        string classNote = is64 != wantIs64 ? (is64 ? ", ELFCLASS64" : ", ELFCLASS32") : string.Empty;
        string orderNote = big != wantBig ? (big ? ", big-endian" : ", little-endian") : string.Empty;
        string needs = machine != wantMachine
            ? string.Empty
            : is64 != wantIs64
                ? (wantIs64 ? " and needs ELFCLASS64" : " and needs ELFCLASS32")
                : (wantBig ? " and needs big-endian" : " and needs little-endian");
        return ImageCheckResult.WrongArchitecture(
            BinaryFormat.Elf,
            string.Create(Inv, $"built for {found} (ELF e_machine {machine}{classNote}{orderNote}), this process is {expected}{needs}"));
    }

    private static ImageCheckResult TableIncomplete(string what, ulong offset, ulong count, ulong entrySize, int length) =>
        ImageCheckResult.Incomplete(
            BinaryFormat.Elf,
            string.Create(Inv, $"{what} end at byte {ImageBytes.TableEnd(offset, count, entrySize)} but the file has {length} bytes"));

    private static void ReadSection(
        ReadOnlySpan<byte> image, ulong entry, bool is64, bool big, out uint name, out uint type, out ulong offset, out ulong size, out uint link, out uint info)
    {
        ImageBytes.TryReadUInt32(image, entry, big, out name);
        ImageBytes.TryReadUInt32(image, entry + 4, big, out type);
        ImageBytes.TryReadNative(image, entry + (is64 ? 24UL : 16UL), is64, big, out offset);
        ImageBytes.TryReadNative(image, entry + (is64 ? 32UL : 20UL), is64, big, out size);
        ImageBytes.TryReadUInt32(image, entry + (is64 ? 40UL : 24UL), big, out link);
        ImageBytes.TryReadUInt32(image, entry + (is64 ? 44UL : 28UL), big, out info);
    }

    /// <summary>Looks a section name up in the section-name string table, bounds-checked; "unnamed" when it cannot.</summary>
    private static string SectionName(
        ReadOnlySpan<byte> image, ulong shoff, ulong shnum, ulong shentsize, ulong shstrndx, bool is64, bool big, uint nameOffset)
    {
        const string Unnamed = "unnamed";
        if (shstrndx == 0 || shstrndx >= shnum)
        {
            return Unnamed;
        }

        ReadSection(image, shoff + (shstrndx * shentsize), is64, big, out _, out _, out ulong strOffset, out ulong strSize, out _, out _);
        if (nameOffset >= strSize || !ImageBytes.Fits(strOffset, strSize, image.Length))
        {
            return Unnamed;
        }

        ulong start = strOffset + nameOffset;
        int max = (int)Math.Min(64UL, strSize - nameOffset);
        string name = ImageBytes.ReadFixedName(image, start, max);
        return name.Length == 0 ? Unnamed : name;
    }

    private static string TypeName(ushort type) => type switch
    {
        0 => "ET_NONE (no file type)",
        1 => "ET_REL (a relocatable object file)",
        2 => "ET_EXEC (an executable)",
        4 => "ET_CORE (a core dump)",
        _ => string.Create(CultureInfo.InvariantCulture, $"{type} (unknown)"),
    };

    private static string MachineName(ushort machine) => machine switch
    {
        2 => "sparc",
        3 => "i386",
        8 => "mips",
        20 => "ppc",
        21 => "ppc64",
        22 => "s390",
        40 => "arm",
        43 => "sparcv9",
        50 => "ia64",
        62 => "x86_64",
        183 => "aarch64",
        243 => "riscv",
        247 => "bpf",
        258 => "loongarch",
        _ => "an unknown machine",
    };
}
