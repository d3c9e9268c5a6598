namespace NativeReload.Validation;

/// <summary>
/// What an ELF shared object's dynamic section says about how the loader will treat it: its <c>DT_SONAME</c> and the
/// <c>STB_GNU_UNIQUE</c> symbols it defines (the objects the loader shares process-wide with the first copy).
/// </summary>
/// <param name="Soname">The <c>DT_SONAME</c>, or null when the library has none (or it could not be read).</param>
/// <param name="UniqueSymbols">The defined <c>STB_GNU_UNIQUE</c> symbols of <c>.dynsym</c>, mangled, in table order,
/// at most <see cref="ElfDynamicReader.MaxListedSymbols"/> of them.</param>
/// <param name="UniqueSymbolCount">How many there are in all (may exceed the listed ones).</param>
internal sealed record ElfDynamicInfo(string? Soname, IReadOnlyList<string> UniqueSymbols, int UniqueSymbolCount)
{
    /// <summary>A library with neither a soname nor unique symbols (also what an unreadable table gives).</summary>
    public static ElfDynamicInfo None { get; } = new(null, [], 0);
}
