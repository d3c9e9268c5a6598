using NativeReload.Validation;

namespace NativeReload.Loading;

/// <summary>
/// What an ELF shared object asks the dynamic loader for: its <c>DT_NEEDED</c> names and the folders it searches
/// (<c>DT_RUNPATH</c>, else <c>DT_RPATH</c>), read from the validated bytes, never from the file again.
/// </summary>
internal static class ElfDependencies
{
    private const uint PtLoad = 1;
    private const uint PtDynamic = 2;
    private const long DtNull = 0;
    private const long DtNeeded = 1;
    private const long DtStrTab = 5;
    private const long DtStrSz = 10;
    private const long DtRPath = 15;
    private const long DtRunPath = 29;

    /// <summary>Cap on dynamic entries read: a real library has tens; garbage must not cost a long loop.</summary>
    private const ulong MaxEntries = 4096;

    /// <summary>
    /// Reads the dependency names and search folders; an empty result when the image has no dynamic section or a
    /// malformed one (the loader then reports what it finds missing, as it would without this reader).
    /// </summary>
    public static NativeDependencies Read(ReadOnlySpan<byte> image)
    {
        if (image.Length < ElfImageChecker.Header64Size || image[0] != 0x7F || image[1] != (byte)'E' || image[2] != (byte)'L' || image[3] != (byte)'F')
        {
            return NativeDependencies.None;
        }

        bool is64 = image[4] == 2;
        bool big = image[5] == 2;
        ulong phoff;
        ushort phentsize, phnum;
        if (is64)
        {
            ImageBytes.TryReadUInt64(image, 32, big, out phoff);
            ImageBytes.TryReadUInt16(image, 54, big, out phentsize);
            ImageBytes.TryReadUInt16(image, 56, big, out phnum);
        }
        else
        {
            ImageBytes.TryReadUInt32(image, 28, big, out uint phoff32);
            phoff = phoff32;
            ImageBytes.TryReadUInt16(image, 42, big, out phentsize);
            ImageBytes.TryReadUInt16(image, 44, big, out phnum);
        }

        if (phentsize == 0 || ImageBytes.TableEnd(phoff, phnum, phentsize) > (ulong)image.Length)
        {
            return NativeDependencies.None;
        }

        // The dynamic segment, and the loadable segments to turn DT_STRTAB (an address) into a file offset.
        ulong dynOffset = 0, dynSize = 0;
        var loads = new List<(ulong VAddr, ulong Offset, ulong FileSize)>();
        for (ulong i = 0; i < phnum; i++)
        {
            ulong entry = phoff + (i * phentsize);
            ImageBytes.TryReadUInt32(image, entry, big, out uint type);
            ImageBytes.TryReadNative(image, entry + (is64 ? 8UL : 4UL), is64, big, out ulong offset);
            ImageBytes.TryReadNative(image, entry + (is64 ? 16UL : 8UL), is64, big, out ulong vaddr);
            ImageBytes.TryReadNative(image, entry + (is64 ? 32UL : 16UL), is64, big, out ulong fileSize);
            if (type == PtDynamic)
            {
                (dynOffset, dynSize) = (offset, fileSize);
            }
            else if (type == PtLoad)
            {
                loads.Add((vaddr, offset, fileSize));
            }
        }

        if (dynSize == 0 || !ImageBytes.Fits(dynOffset, dynSize, image.Length))
        {
            return NativeDependencies.None;
        }

        ulong entrySize = is64 ? 16UL : 8UL;
        ulong strTabAddress = 0, strSize = 0;
        ulong runPath = ulong.MaxValue, rPath = ulong.MaxValue;
        var needed = new List<ulong>();
        for (ulong i = 0; i < Math.Min(dynSize / entrySize, MaxEntries); i++)
        {
            ulong entry = dynOffset + (i * entrySize);
            ImageBytes.TryReadNative(image, entry, is64, big, out ulong tagBits);
            ImageBytes.TryReadNative(image, entry + (entrySize / 2), is64, big, out ulong value);
            long tag = is64 ? (long)tagBits : (int)(uint)tagBits;
            switch (tag)
            {
                case DtNull: i = MaxEntries; break;
                case DtNeeded: needed.Add(value); break;
                case DtStrTab: strTabAddress = value; break;
                case DtStrSz: strSize = value; break;
                case DtRPath: rPath = value; break;
                case DtRunPath: runPath = value; break;
            }
        }

        ulong? strTab = null;
        foreach ((ulong vaddr, ulong offset, ulong fileSize) in loads)
        {
            if (strTabAddress >= vaddr && strTabAddress - vaddr < fileSize)
            {
                strTab = offset + (strTabAddress - vaddr);
                break;
            }
        }

        if (strTab is not { } table || strSize == 0 || !ImageBytes.Fits(table, strSize, image.Length))
        {
            return NativeDependencies.None;
        }

        ReadOnlySpan<byte> strings = image.Slice((int)table, (int)strSize);
        var names = new List<string>(needed.Count);
        foreach (ulong offset in needed)
        {
            string name = StringAt(strings, offset);
            if (name.Length > 0)
            {
                names.Add(name);
            }
        }

        // glibc: DT_RUNPATH, when present, replaces DT_RPATH.
        ulong pathOffset = runPath != ulong.MaxValue ? runPath : rPath;
        string searchPath = pathOffset == ulong.MaxValue ? string.Empty : StringAt(strings, pathOffset);
        string[] folders = searchPath.Split(':', StringSplitOptions.RemoveEmptyEntries);
        return new NativeDependencies(names, folders);
    }

    private static string StringAt(ReadOnlySpan<byte> strings, ulong offset)
    {
        if (offset >= (ulong)strings.Length)
        {
            return string.Empty;
        }

        ReadOnlySpan<byte> rest = strings[(int)offset..];
        int end = rest.IndexOf((byte)0);
        return System.Text.Encoding.UTF8.GetString(end < 0 ? rest : rest[..end]);
    }
}
