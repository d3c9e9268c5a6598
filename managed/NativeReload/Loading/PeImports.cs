using NativeReload.Validation;

namespace NativeReload.Loading;

/// <summary>
/// The DLL names a PE image imports (its import directory), read from the validated bytes. Windows looks for them
/// in the importing DLL's own folder first, which for a shadow copy is the wrong folder.
/// </summary>
internal static class PeImports
{
    private const int ImportDirectoryIndex = 1;
    private const int MaxImports = 1024;

    /// <summary>The imported DLL names, or none when the image has no (readable) import directory.</summary>
    public static NativeDependencies Read(ReadOnlySpan<byte> image)
    {
        if (!ImageBytes.TryReadUInt32(image, PeImageChecker.LfanewOffset, false, out uint lfanew))
        {
            return NativeDependencies.None;
        }

        ulong coff = (ulong)lfanew + 4;
        if (!ImageBytes.TryReadUInt16(image, coff + 2, false, out ushort sectionCount)
            || !ImageBytes.TryReadUInt16(image, coff + 16, false, out ushort optionalSize)
            || !ImageBytes.TryReadUInt16(image, coff + PeImageChecker.CoffHeaderSize, false, out ushort magic))
        {
            return NativeDependencies.None;
        }

        ulong optional = coff + PeImageChecker.CoffHeaderSize;
        ulong directories = optional + (magic == PeImageChecker.Pe32PlusMagic ? 112UL : 96UL);
        if (!ImageBytes.TryReadUInt32(image, directories + (ImportDirectoryIndex * 8), false, out uint importRva) || importRva == 0)
        {
            return NativeDependencies.None;
        }

        ulong sections = optional + optionalSize;
        if (Offset(image, sections, sectionCount, importRva) is not { } descriptor)
        {
            return NativeDependencies.None;
        }

        var names = new List<string>();
        for (int i = 0; i < MaxImports; i++, descriptor += 20)
        {
            // IMAGE_IMPORT_DESCRIPTOR: Name RVA at +12; an all-zero descriptor ends the table.
            if (!ImageBytes.TryReadUInt32(image, descriptor + 12, false, out uint nameRva) || nameRva == 0)
            {
                break;
            }

            if (Offset(image, sections, sectionCount, nameRva) is { } nameOffset && nameOffset < (ulong)image.Length)
            {
                string name = ImageBytes.ReadFixedName(image, nameOffset, (int)Math.Min(256UL, (ulong)image.Length - nameOffset));
                if (name.Length > 0)
                {
                    names.Add(name);
                }
            }
        }

        return new NativeDependencies(names, []);
    }

    /// <summary>The file offset of a relative virtual address, through the section table; null when no section holds it.</summary>
    private static ulong? Offset(ReadOnlySpan<byte> image, ulong sections, ushort sectionCount, uint rva)
    {
        for (ulong i = 0; i < sectionCount; i++)
        {
            ulong header = sections + (i * PeImageChecker.SectionHeaderSize);
            if (!ImageBytes.TryReadUInt32(image, header + 8, false, out uint virtualSize)
                || !ImageBytes.TryReadUInt32(image, header + 12, false, out uint virtualAddress)
                || !ImageBytes.TryReadUInt32(image, header + 16, false, out uint rawSize)
                || !ImageBytes.TryReadUInt32(image, header + 20, false, out uint rawOffset))
            {
                return null;
            }

            if (rva >= virtualAddress && rva - virtualAddress < Math.Max(virtualSize, rawSize))
            {
                return (ulong)rawOffset + (rva - virtualAddress);
            }
        }

        return null;
    }
}
