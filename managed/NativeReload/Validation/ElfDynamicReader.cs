using System.Text;

namespace NativeReload.Validation;

/// <summary>
/// Reads the dynamic symbol table and the soname of an ELF shared object (ELF32 and ELF64, either byte order) from
/// its bytes. The file is untrusted: every offset, size and count is bounds-checked, loops are bounded by the image
/// size, and anything that does not fit gives "nothing found" rather than an exception.
/// </summary>
/// <remarks>
/// The symbol table is found through the section headers (<c>SHT_DYNSYM</c> and its linked string table) and, for a
/// stripped file without them, through the dynamic segment (<c>DT_SYMTAB</c>, <c>DT_STRTAB</c>, <c>DT_STRSZ</c>,
/// with the symbol count from <c>DT_HASH</c> or <c>DT_GNU_HASH</c>), which is what the loader itself uses.
/// </remarks>
internal static class ElfDynamicReader
{
    /// <summary>The most unique symbol names kept; the count goes on past it.</summary>
    public const int MaxListedSymbols = 64;

    /// <summary><c>STB_GNU_UNIQUE</c>: the binding g++ gives to vague-linkage objects (static members of class
    /// templates, static locals of inline functions, inline variables).</summary>
    public const byte StbGnuUnique = 10;

    private const uint PtLoad = 1;
    private const uint PtDynamic = 2;
    private const uint ShtDynSym = 11;
    private const long DtNull = 0;
    private const long DtNeeded = 1;
    private const long DtHash = 4;
    private const long DtStrTab = 5;
    private const long DtSymTab = 6;
    private const long DtStrSz = 10;
    private const long DtSymEnt = 11;
    private const long DtSoname = 14;
    private const long DtRPath = 15;
    private const long DtRunPath = 29;
    private const long DtGnuHash = 0x6ffffef5;
    private const int MaxNameBytes = 4096;

    /// <summary>Reads the soname and the unique symbols; <see cref="ElfDynamicInfo.None"/> for anything that is not a
    /// readable ELF shared object. Never throws.</summary>
    public static ElfDynamicInfo Read(ReadOnlySpan<byte> image)
    {
        if (!Header.TryRead(image, out Header h))
        {
            return ElfDynamicInfo.None;
        }

        Dynamic dyn = ReadDynamic(image, h);
        string? soname = null;
        if (dyn.SonameOffset is { } sonameOffset && dyn.StrTab is { } strTab)
        {
            soname = ReadName(image, strTab, dyn.StrSize ?? (ulong)image.Length, sonameOffset);
        }

        Table? symbols = FindDynSymFromSections(image, h) ?? FindDynSymFromDynamic(image, h, dyn);
        if (symbols is not { } table)
        {
            return new ElfDynamicInfo(soname, [], 0);
        }

        var names = new List<string>();
        int count = 0;
        for (ulong i = 1; i < table.Count; i++) // entry 0 is always the undefined symbol
        {
            ulong entry = table.Offset + (i * table.EntrySize);
            if (!ReadSymbol(image, h, entry, out uint nameOffset, out byte info, out ushort shndx))
            {
                break;
            }

            if (info >> 4 != StbGnuUnique || shndx == 0)
            {
                continue; // only the ones this library defines: a reference to another's unique symbol is harmless
            }

            count++;
            if (names.Count < MaxListedSymbols && ReadName(image, table.StrOffset, table.StrSize, nameOffset) is { Length: > 0 } name)
            {
                names.Add(name);
            }
        }

        return new ElfDynamicInfo(soname, names, count);
    }

    /// <summary>
    /// What the library asks the dynamic loader for: its <c>DT_NEEDED</c> names and the folders it searches
    /// (<c>DT_RUNPATH</c>, which replaces <c>DT_RPATH</c> when present, as in glibc). Empty for anything unreadable.
    /// </summary>
    public static (IReadOnlyList<string> Needed, IReadOnlyList<string> SearchFolders) ReadDependencies(ReadOnlySpan<byte> image)
    {
        if (!Header.TryRead(image, out Header h))
        {
            return ([], []);
        }

        Dynamic dyn = ReadDynamic(image, h);
        if (dyn.StrTab is not { } strTab)
        {
            return ([], []);
        }

        ulong strSize = dyn.StrSize ?? (ulong)image.Length;
        var needed = new List<string>();
        foreach (ulong offset in dyn.Needed ?? [])
        {
            if (ReadName(image, strTab, strSize, offset) is { Length: > 0 } name)
            {
                needed.Add(name);
            }
        }

        string searchPath = (dyn.RunPath ?? dyn.RPath) is { } pathOffset ? ReadName(image, strTab, strSize, pathOffset) ?? string.Empty : string.Empty;
        return (needed, searchPath.Split(':', StringSplitOptions.RemoveEmptyEntries));
    }

    private static Dynamic ReadDynamic(ReadOnlySpan<byte> image, in Header h)
    {
        var dyn = default(Dynamic);
        for (ulong i = 0; i < h.PhNum; i++)
        {
            ulong ph = h.PhOff + (i * h.PhEntSize);
            if (!ImageBytes.TryReadUInt32(image, ph, h.Big, out uint type) || type != PtDynamic
                || !ImageBytes.TryReadNative(image, ph + (h.Is64 ? 8UL : 4UL), h.Is64, h.Big, out ulong offset)
                || !ImageBytes.TryReadNative(image, ph + (h.Is64 ? 32UL : 16UL), h.Is64, h.Big, out ulong size)
                || !ImageBytes.Fits(offset, size, image.Length))
            {
                continue;
            }

            ulong entrySize = h.Is64 ? 16UL : 8UL;
            ulong? strTabAddress = null, symTabAddress = null, hashAddress = null, gnuHashAddress = null;
            for (ulong at = offset; at + entrySize <= offset + size; at += entrySize)
            {
                ImageBytes.TryReadNative(image, at, h.Is64, h.Big, out ulong tagBits);
                ImageBytes.TryReadNative(image, at + (entrySize / 2), h.Is64, h.Big, out ulong value);
                long tag = h.Is64 ? (long)tagBits : (int)(uint)tagBits;
                switch (tag)
                {
                    case DtNull:
                        at = offset + size; // end of the array
                        break;
                    case DtStrTab: strTabAddress = value; break;
                    case DtSymTab: symTabAddress = value; break;
                    case DtStrSz: dyn.StrSize = value; break;
                    case DtSymEnt: dyn.SymEnt = value; break;
                    case DtSoname: dyn.SonameOffset = value; break;
                    case DtNeeded: (dyn.Needed ??= []).Add(value); break;
                    case DtRPath: dyn.RPath = value; break;
                    case DtRunPath: dyn.RunPath = value; break;
                    case DtHash: hashAddress = value; break;
                    case DtGnuHash: gnuHashAddress = value; break;
                    default: break;
                }
            }

            dyn.StrTab = ToFileOffset(image, h, strTabAddress);
            dyn.SymTab = ToFileOffset(image, h, symTabAddress);
            dyn.Hash = ToFileOffset(image, h, hashAddress);
            dyn.GnuHash = ToFileOffset(image, h, gnuHashAddress);
            break;
        }

        return dyn;
    }

    /// <summary>Maps a virtual address to its file offset through the PT_LOAD segment that holds it.</summary>
    private static ulong? ToFileOffset(ReadOnlySpan<byte> image, in Header h, ulong? address)
    {
        if (address is not { } va)
        {
            return null;
        }

        for (ulong i = 0; i < h.PhNum; i++)
        {
            ulong ph = h.PhOff + (i * h.PhEntSize);
            if (!ImageBytes.TryReadUInt32(image, ph, h.Big, out uint type) || type != PtLoad
                || !ImageBytes.TryReadNative(image, ph + (h.Is64 ? 8UL : 4UL), h.Is64, h.Big, out ulong offset)
                || !ImageBytes.TryReadNative(image, ph + (h.Is64 ? 16UL : 8UL), h.Is64, h.Big, out ulong vaddr)
                || !ImageBytes.TryReadNative(image, ph + (h.Is64 ? 32UL : 16UL), h.Is64, h.Big, out ulong filesz))
            {
                continue;
            }

            if (va >= vaddr && va - vaddr < filesz && ImageBytes.Fits(offset, va - vaddr, image.Length))
            {
                return offset + (va - vaddr);
            }
        }

        return null;
    }

    private static Table? FindDynSymFromSections(ReadOnlySpan<byte> image, in Header h)
    {
        ulong minEntry = h.Is64 ? 64UL : 40UL;
        if (h.ShOff == 0 || h.ShEntSize < minEntry || ImageBytes.TableEnd(h.ShOff, h.ShNum, h.ShEntSize) > (ulong)image.Length)
        {
            return null;
        }

        for (ulong i = 0; i < h.ShNum; i++)
        {
            ulong sh = h.ShOff + (i * h.ShEntSize);
            if (!ReadSection(image, h, sh, out uint type, out ulong offset, out ulong size, out uint link, out ulong entSize) || type != ShtDynSym)
            {
                continue;
            }

            if (link >= h.ShNum || !ReadSection(image, h, h.ShOff + (link * h.ShEntSize), out _, out ulong strOffset, out ulong strSize, out _, out _))
            {
                return null;
            }

            return MakeTable(image, h, offset, size / Math.Max(1UL, entSize), entSize, strOffset, strSize);
        }

        return null;
    }

    private static Table? FindDynSymFromDynamic(ReadOnlySpan<byte> image, in Header h, in Dynamic dyn)
    {
        if (dyn.SymTab is not { } symTab || dyn.StrTab is not { } strTab)
        {
            return null;
        }

        ulong entSize = dyn.SymEnt ?? (h.Is64 ? 24UL : 16UL);
        ulong? count = null;
        if (dyn.Hash is { } hash && ImageBytes.TryReadUInt32(image, hash + 4, h.Big, out uint nchain))
        {
            count = nchain;
        }
        else if (dyn.GnuHash is { } gnuHash)
        {
            count = CountFromGnuHash(image, h, gnuHash);
        }

        ulong strSize = dyn.StrSize ?? ((ulong)image.Length - Math.Min(strTab, (ulong)image.Length));
        return count is { } n ? MakeTable(image, h, symTab, n, entSize, strTab, strSize) : null;
    }

    /// <summary>The number of symbols a <c>DT_GNU_HASH</c> table covers: past the highest bucket, follow the chain to
    /// its end marker (low bit set). Every read is bounds-checked, so the walk ends at the end of the image.</summary>
    private static ulong? CountFromGnuHash(ReadOnlySpan<byte> image, in Header h, ulong at)
    {
        if (!ImageBytes.TryReadUInt32(image, at, h.Big, out uint nbuckets)
            || !ImageBytes.TryReadUInt32(image, at + 4, h.Big, out uint symOffset)
            || !ImageBytes.TryReadUInt32(image, at + 8, h.Big, out uint bloomSize))
        {
            return null;
        }

        ulong buckets = at + 16 + ((ulong)bloomSize * (h.Is64 ? 8UL : 4UL));
        if (ImageBytes.TableEnd(buckets, nbuckets, 4) > (ulong)image.Length)
        {
            return null;
        }

        uint highest = 0;
        for (ulong b = 0; b < nbuckets; b++)
        {
            ImageBytes.TryReadUInt32(image, buckets + (b * 4), h.Big, out uint bucket);
            highest = Math.Max(highest, bucket);
        }

        if (highest < symOffset)
        {
            return symOffset;
        }

        ulong chains = buckets + ((ulong)nbuckets * 4);
        for (ulong index = highest; ; index++)
        {
            if (!ImageBytes.TryReadUInt32(image, chains + ((index - symOffset) * 4), h.Big, out uint value))
            {
                return null;
            }

            if ((value & 1) != 0)
            {
                return index + 1;
            }
        }
    }

    private static Table? MakeTable(ReadOnlySpan<byte> image, in Header h, ulong offset, ulong count, ulong entSize, ulong strOffset, ulong strSize)
    {
        ulong minEntry = h.Is64 ? 24UL : 16UL;
        if (entSize < minEntry || !ImageBytes.Fits(strOffset, strSize, image.Length))
        {
            return null;
        }

        // A count that runs past the end of the file is cut to what is there.
        ulong fits = offset >= (ulong)image.Length ? 0 : ((ulong)image.Length - offset) / entSize;
        return new Table(offset, Math.Min(count, fits), entSize, strOffset, strSize);
    }

    private static bool ReadSymbol(ReadOnlySpan<byte> image, in Header h, ulong entry, out uint name, out byte info, out ushort shndx)
    {
        info = 0;
        shndx = 0;
        ulong infoAt = entry + (h.Is64 ? 4UL : 12UL);
        ulong shndxAt = entry + (h.Is64 ? 6UL : 14UL);
        if (!ImageBytes.TryReadUInt32(image, entry, h.Big, out name) || !ImageBytes.Fits(infoAt, 1, image.Length)
            || !ImageBytes.TryReadUInt16(image, shndxAt, h.Big, out shndx))
        {
            return false;
        }

        info = image[(int)infoAt];
        return true;
    }

    private static bool ReadSection(
        ReadOnlySpan<byte> image, in Header h, ulong entry, out uint type, out ulong offset, out ulong size, out uint link, out ulong entSize)
    {
        offset = size = entSize = 0;
        link = 0;
        return ImageBytes.TryReadUInt32(image, entry + 4, h.Big, out type)
            && ImageBytes.TryReadNative(image, entry + (h.Is64 ? 24UL : 16UL), h.Is64, h.Big, out offset)
            && ImageBytes.TryReadNative(image, entry + (h.Is64 ? 32UL : 20UL), h.Is64, h.Big, out size)
            && ImageBytes.TryReadUInt32(image, entry + (h.Is64 ? 40UL : 24UL), h.Big, out link)
            && ImageBytes.TryReadNative(image, entry + (h.Is64 ? 56UL : 36UL), h.Is64, h.Big, out entSize);
    }

    /// <summary>A NUL-terminated name inside a string table, bounded by the table and <see cref="MaxNameBytes"/>;
    /// null when it does not fit or is not UTF-8.</summary>
    private static string? ReadName(ReadOnlySpan<byte> image, ulong table, ulong tableSize, ulong nameOffset)
    {
        if (nameOffset >= tableSize || !ImageBytes.Fits(table, tableSize, image.Length))
        {
            return null;
        }

        ulong start = table + nameOffset;
        int max = (int)Math.Min(Math.Min(tableSize - nameOffset, MaxNameBytes), (ulong)image.Length - start);
        ReadOnlySpan<byte> bytes = image.Slice((int)start, max);
        int nul = bytes.IndexOf((byte)0);
        if (nul < 0)
        {
            return null;
        }

        bytes = bytes[..nul];
        return System.Text.Unicode.Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes) : null;
    }

    private readonly record struct Table(ulong Offset, ulong Count, ulong EntrySize, ulong StrOffset, ulong StrSize);

    private struct Dynamic
    {
        public ulong? StrTab;
        public ulong? SymTab;
        public ulong? StrSize;
        public ulong? SymEnt;
        public ulong? SonameOffset;
        public ulong? Hash;
        public ulong? GnuHash;
        public List<ulong>? Needed;
        public ulong? RPath;
        public ulong? RunPath;
    }

    private readonly record struct Header(bool Is64, bool Big, ulong PhOff, ulong PhNum, ulong PhEntSize, ulong ShOff, ulong ShNum, ulong ShEntSize)
    {
        public static bool TryRead(ReadOnlySpan<byte> image, out Header header)
        {
            header = default;
            if (image.Length < ElfImageChecker.IdentSize || image[0] != 0x7F || image[1] != (byte)'E' || image[2] != (byte)'L' || image[3] != (byte)'F'
                || image[4] is not (1 or 2) || image[5] is not (1 or 2))
            {
                return false;
            }

            bool is64 = image[4] == 2;
            bool big = image[5] == 2;
            ulong phoff, shoff;
            ushort phentsize, phnum, shentsize, shnum;
            bool ok = is64
                ? ImageBytes.TryReadUInt64(image, 32, big, out phoff) & ImageBytes.TryReadUInt64(image, 40, big, out shoff)
                    & ImageBytes.TryReadUInt16(image, 54, big, out phentsize) & ImageBytes.TryReadUInt16(image, 56, big, out phnum)
                    & ImageBytes.TryReadUInt16(image, 58, big, out shentsize) & ImageBytes.TryReadUInt16(image, 60, big, out shnum)
                : ReadHeader32(image, big, out phoff, out shoff, out phentsize, out phnum, out shentsize, out shnum);
            if (!ok || phentsize < (is64 ? 56 : 32) || ImageBytes.TableEnd(phoff, phnum, phentsize) > (ulong)image.Length)
            {
                return false;
            }

            // Extended section count (e_shnum == 0): the real one is sh_size of section 0.
            ulong sections = shnum;
            if (shnum == 0 && shoff != 0 && shentsize >= (is64 ? 64 : 40))
            {
                ImageBytes.TryReadNative(image, shoff + (is64 ? 32UL : 20UL), is64, big, out sections);
            }

            header = new Header(is64, big, phoff, phnum, phentsize, shoff, sections, shentsize);
            return true;
        }

        private static bool ReadHeader32(
            ReadOnlySpan<byte> image, bool big, out ulong phoff, out ulong shoff, out ushort phentsize, out ushort phnum, out ushort shentsize, out ushort shnum)
        {
            bool ok = ImageBytes.TryReadUInt32(image, 28, big, out uint ph32) & ImageBytes.TryReadUInt32(image, 32, big, out uint sh32)
                & ImageBytes.TryReadUInt16(image, 42, big, out phentsize) & ImageBytes.TryReadUInt16(image, 44, big, out phnum)
                & ImageBytes.TryReadUInt16(image, 46, big, out shentsize) & ImageBytes.TryReadUInt16(image, 48, big, out shnum);
            phoff = ph32;
            shoff = sh32;
            return ok;
        }
    }
}
