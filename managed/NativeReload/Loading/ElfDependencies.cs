using NativeReload.Validation;

namespace NativeReload.Loading;

/// <summary>
/// What an ELF shared object asks the dynamic loader for: its <c>DT_NEEDED</c> names and the folders it searches
/// (<c>DT_RUNPATH</c>, else <c>DT_RPATH</c>), read from the validated bytes, never from the file again. The parsing
/// is <see cref="ElfDynamicReader"/>'s, shared with the soname and unique-symbol checks.
/// </summary>
internal static class ElfDependencies
{
    /// <summary>
    /// Reads the dependency names and search folders; an empty result when the image has no dynamic section or a
    /// malformed one (the loader then reports what it finds missing, as it would without this reader).
    /// </summary>
    public static NativeDependencies Read(ReadOnlySpan<byte> image)
    {
        (IReadOnlyList<string> needed, IReadOnlyList<string> folders) = ElfDynamicReader.ReadDependencies(image);
        return needed.Count == 0 && folders.Count == 0 ? NativeDependencies.None : new NativeDependencies(needed, folders);
    }
}
