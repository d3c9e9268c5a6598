using System.Runtime.InteropServices;

namespace NativeReload.Loading;

/// <summary>
/// One loaded copy of a library: its OS handle, the shadow copy it was loaded from, the content hash that
/// was validated, and a number that increases with every successful load (1, 2, …).
/// </summary>
/// <remarks>
/// Generations are identified by <see cref="Number"/>, never by handle: after a real unload the OS may
/// hand the same handle value to the next copy.
/// </remarks>
public abstract class LibraryGeneration
{
    private static long s_lastUniqueId;

    private protected LibraryGeneration(long number, string filePath, string shadowPath, nint handle, string contentHash)
    {
        Number = number;
        FilePath = filePath;
        ShadowPath = shadowPath;
        Handle = handle;
        ContentHash = contentHash;
        LoadedAt = DateTimeOffset.UtcNow;
    }

    /// <summary>
    /// Unique in the process (across libraries), never 0: what a call scope records in its thread's slot. A number
    /// rather than a reference, so recording it costs a plain store instead of a GC write barrier.
    /// </summary>
    internal long UniqueId { get; } = Interlocked.Increment(ref s_lastUniqueId);

    /// <summary>1 for the first load, then one more per accepted reload.</summary>
    public long Number { get; }

    /// <summary>The library file the user named (the build output).</summary>
    public string FilePath { get; }

    /// <summary>The private copy the OS actually loaded.</summary>
    public string ShadowPath { get; }

    /// <summary>SHA-256 (hex) of the bytes that were validated and loaded.</summary>
    public string ContentHash { get; }

    /// <summary>When this generation was loaded.</summary>
    public DateTimeOffset LoadedAt { get; }

    /// <summary>Time spent reading, validating, copying, loading and binding this generation.</summary>
    public TimeSpan LoadDuration { get; internal set; }

    /// <summary>
    /// What makes this generation behave unlike a fresh, private copy, one line each without the file name: it defines
    /// <c>STB_GNU_UNIQUE</c> symbols (shared with the first loaded copy), or the process had already loaded this library
    /// before. Empty for an ordinary library. Each line was also logged as a warning when the generation was loaded.
    /// </summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>The <c>STB_GNU_UNIQUE</c> symbols this generation defines, demangled where possible (ELF only; empty elsewhere).</summary>
    public IReadOnlyList<string> UniqueSymbols { get; init; } = [];

    /// <summary>The plugin contract exports (<c>nativereload.h</c>) of this generation; null when it implements none.</summary>
    internal Plugins.PluginHooks? Plugin { get; init; }

    /// <summary>The <c>load_kind</c> of this generation's last <c>nr_load</c> (passed back to its <c>nr_unload</c>).</summary>
    internal int LastLoadKind { get; set; }

    /// <summary>
    /// True between a successful load (its <c>nr_load</c>, if it has one) and the matching <c>nr_unload</c>: the library may
    /// reach the state block, and is owed its <c>nr_unload</c> before it is unloaded.
    /// </summary>
    internal bool HoldsState { get; set; }

    /// <summary>The dependencies loaded from the original folder for this generation; freed after its own handle.</summary>
    internal PreloadedDependencies Dependencies { get; init; } = PreloadedDependencies.None;

    /// <summary>The OS handle. Valid until the generation is retired.</summary>
    internal nint Handle { get; }

    /// <summary>True once the generation has been freed; its exports must not be called any more.</summary>
    public bool IsRetired { get; private set; }

    /// <summary>Frees the OS handle. Only the owner calls this, after no thread can be inside the library.</summary>
    internal void Free()
    {
        if (IsRetired)
        {
            return;
        }

        IsRetired = true;
        NativeLibrary.Free(Handle);
        Dependencies.Free();
    }

    /// <inheritdoc />
    public override string ToString() => $"generation {Number} of {FilePath}";
}

/// <summary>A generation together with its exports, resolved once when it was loaded.</summary>
/// <typeparam name="TExports">The host's description of the exports (typically a class of function pointers).</typeparam>
public sealed class LibraryGeneration<TExports> : LibraryGeneration
    where TExports : class
{
    internal LibraryGeneration(long number, string filePath, string shadowPath, nint handle, string contentHash, TExports exports)
        : base(number, filePath, shadowPath, handle, contentHash)
    {
        Exports = exports;
    }

    /// <summary>The exports of this generation.</summary>
    /// <remarks><b>Safety:</b> function pointers in it are valid only while this generation is alive: use them
    /// inside a <see cref="Calling.GenerationScope{TExports}"/>, or in safe-point mode between two calls to
    /// <see cref="Reloading.ReloadableLibrary{TExports}.ApplyPendingReload"/>.</remarks>
    public TExports Exports { get; }
}
