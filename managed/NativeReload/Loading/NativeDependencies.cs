namespace NativeReload.Loading;

/// <summary>
/// The libraries an image names as dependencies and the folders it asks the loader to search for them (ELF
/// <c>DT_RUNPATH</c>/<c>DT_RPATH</c> entries, unexpanded; empty for PE, whose loader searches the DLL's folder).
/// </summary>
/// <param name="Needed">Dependency names as written in the image (<c>libdep.so</c>, <c>dep.dll</c>).</param>
/// <param name="SearchFolders">Folders in search order, tokens such as <c>$ORIGIN</c> not yet expanded.</param>
internal sealed record NativeDependencies(IReadOnlyList<string> Needed, IReadOnlyList<string> SearchFolders)
{
    /// <summary>No dependencies (or none that could be read).</summary>
    public static NativeDependencies None { get; } = new([], []);
}
