using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NativeReload.ShadowCopying;

/// <summary>
/// A private directory, one per process, that holds the shadow copies actually handed to the loader.
/// </summary>
/// <remarks>
/// <para>
/// Why copies: the loader caches libraries by path (glibc even by device and inode, so a hard link is
/// not enough), Windows locks a loaded DLL so the build could not overwrite it, and a linker that
/// rewrites a mapped file in place crashes the process. Loading only private copies with unique names
/// makes the host immune to all three.
/// </para>
/// <para>
/// Security: the directory is created exclusively with an unpredictable name (<c>mkdtemp</c> on Unix, under any
/// root, mode 0700), and every copy is created with <see cref="FileMode.CreateNew"/> (<c>O_EXCL</c>) under a
/// random name, so another user can neither predict nor pre-create a file the host will load.
/// </para>
/// <para>
/// Crash cleanup: the directory holds an exclusively locked <c>.owner</c> file while its process lives. A later
/// process (<see cref="RemoveAbandoned"/>, run by every <see cref="Create"/>) removes a directory under the root only
/// when all of these hold, each checked on an open descriptor, never on a path that could be re-resolved: its name is
/// exactly ours (<c>nativereload-&lt;pid&gt;-&lt;16 hex&gt;&lt;6 characters&gt;</c>); it is a real directory, not a
/// symbolic link (<c>openat</c> with <c>O_NOFOLLOW|O_DIRECTORY</c>); it belongs to our effective uid and has mode
/// 0700; its <c>.owner</c> is a regular file of ours; and the sweep can take that file's lock, i.e. the owner is gone
/// (even if its pid was reused). The removal then goes entry by entry with <c>unlinkat</c> relative to the open
/// directory, so a link planted before or swapped in during the sweep is unlinked as a link and its target is never
/// touched (<see cref="UnixAbandonedDirectory"/>). On Windows, reparse points are never candidates and never entered.
/// Where the descriptor calls are not implemented (see <see cref="UnixDescriptors"/>) nothing is swept.
/// </para>
/// <para>
/// No half-made directory is ever visible under the swept name: <see cref="Create"/> makes the directory under a
/// staging name the sweep never matches (<c>.nativereload-…</c>), creates and locks <c>.owner</c> in it, and only
/// then renames it to its final name (atomic within the root). So every directory a sweep can see was locked from its
/// first moment under that name, and "lock file present and free" proves its owner is gone: the window between
/// creating and locking the file, in which a sweep could take a live directory, does not exist.
/// A directory without a lock file is never removed. On Windows, where a directory holding an open file cannot be
/// renamed, the lock file is created and locked in one call (a sharing mode), so that window does not exist either.
/// The price: a process killed in the microseconds between <c>mkdtemp</c> and the rename leaves an empty staging
/// directory, which no sweep removes (it cannot be told apart from one being set up).
/// </para>
/// </remarks>
public sealed class ShadowCopyDirectory : IDisposable
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> s_sweptRoots = new(StringComparer.Ordinal);

    /// <summary>Prefix of every per-process shadow directory under the root.</summary>
    public const string DirectoryPrefix = "nativereload-";

    /// <summary>Name of the lock file whose lock marks a directory as in use.</summary>
    internal const string OwnerFileName = ".owner";

    // How long Dispose keeps trying to remove a copy the OS still holds: 10 tries, 50 ms apart.
    private const int RemoveAttempts = 10;
    private static readonly TimeSpan RemoveRetryDelay = TimeSpan.FromMilliseconds(50);

    private readonly ShadowRoot _root;
    private readonly FileStream _ownerLock;
    private readonly ILogger _logger;
    private bool _disposed;

    private ShadowCopyDirectory(ShadowRoot root, string path, FileStream ownerLock, ILogger logger)
    {
        _root = root;
        Path = path;
        _ownerLock = ownerLock;
        _logger = logger;
    }

    /// <summary>The owner's logger, for what the loader reports about the copies (e.g. their dependencies).</summary>
    internal ILogger Logger => _logger;

    /// <summary>Full path of this process's shadow directory.</summary>
    public string Path { get; }

    /// <summary>
    /// Creates a new shadow directory under <paramref name="root"/> (default: the system temporary
    /// directory, or the <c>NATIVERELOAD_SHADOW_ROOT</c> environment variable when set) after removing
    /// directories left there by processes that no longer run.
    /// </summary>
    /// <param name="root">Where to create the directory; it must allow executing mapped code (not <c>noexec</c>).</param>
    /// <param name="logger">Receives cleanup diagnostics.</param>
    public static ShadowCopyDirectory Create(string? root = null, ILogger? logger = null) =>
        CreateOn(ShadowRoot.Current, root, logger);

    /// <summary><see cref="Create(string?, ILogger?)"/> with a given system's implementation (tests drive each one).</summary>
    internal static ShadowCopyDirectory CreateOn(ShadowRoot system, string? root, ILogger? logger)
    {
        logger ??= NullLogger.Instance;
        root ??= DefaultRoot();
        Directory.CreateDirectory(root);
        if (s_sweptRoots.TryAdd(System.IO.Path.GetFullPath(root), true))
        {
            // Once per root and process: what a crashed process left is there at start; sweeping again for every
            // library cost ~15 ms each beside 1,000 live directories (lock-probing every one), for nothing new.
            system.RemoveAbandoned(root, logger);
        }

        (string path, FileStream ownerLock) = system.Create(root);
        Log.ShadowDirectoryCreated(logger, path);
        return new ShadowCopyDirectory(system, path, ownerLock, logger);
    }

    /// <summary>The root used when none is given: <c>NATIVERELOAD_SHADOW_ROOT</c> or the temporary directory.</summary>
    public static string DefaultRoot() =>
        Environment.GetEnvironmentVariable("NATIVERELOAD_SHADOW_ROOT") is { Length: > 0 } fromEnvironment
            ? fromEnvironment
            : System.IO.Path.GetTempPath();

    /// <summary>
    /// Writes <paramref name="content"/> to a new file with an unpredictable name that keeps
    /// <paramref name="originalFileName"/>'s stem and extension (so the loader and <c>/proc/self/maps</c>
    /// show which library it is).
    /// </summary>
    /// <param name="originalFileName">File name of the library being copied, e.g. <c>libgreeter.so</c>.</param>
    /// <param name="generation">Generation number, part of the name for readability only.</param>
    /// <param name="content">The exact bytes that were validated; they are what gets loaded.</param>
    /// <returns>The full path of the new copy.</returns>
    public string WriteCopy(string originalFileName, long generation, ReadOnlySpan<byte> content)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        string stem = System.IO.Path.GetFileNameWithoutExtension(originalFileName);
        string extension = System.IO.Path.GetExtension(originalFileName);
        string name = $"{stem}.g{generation}.{ShadowRoot.RandomToken()}{extension}";
        string copyPath = System.IO.Path.Combine(Path, name);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        }

        using (var stream = new FileStream(copyPath, options))
        {
            stream.Write(content);
        }

        return copyPath;
    }

    /// <summary>Deletes a copy. Returns false (and keeps it for <see cref="Dispose"/>) when the OS refuses, e.g. a DLL still mapped on Windows.</summary>
    /// <param name="copyPath">A path returned by <see cref="WriteCopy"/>.</param>
    public bool TryDeleteCopy(string copyPath)
    {
        try
        {
            File.Delete(copyPath);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.CopyNotDeleted(_logger, copyPath, e.Message);
            return false;
        }
    }

    /// <summary>Names of the copies currently in the directory (for diagnostics and tests).</summary>
    public IReadOnlyList<string> ListCopies() =>
        Directory.Exists(Path)
            ? Directory.GetFiles(Path).Where(f => System.IO.Path.GetFileName(f) != OwnerFileName).ToArray()
            : [];

    /// <summary>
    /// Removes the directory and every copy in it. A copy the OS still holds is retried for a moment; if the directory
    /// still cannot be emptied it keeps its lock file, and the next process's sweep removes it.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _ownerLock.Dispose();

        // Our lock is released: remove the directory exactly as a sweep would (a concurrent sweep may do it first). The
        // lock file goes last, so whatever is left can still be proven abandoned. Retried because on Windows a freed
        // DLL can stay locked for a moment (Wine unmaps after FreeLibrary returns; virus scanners open new files).
        string reason = string.Empty;
        for (int attempt = 1; attempt <= RemoveAttempts; attempt++)
        {
            SweepVerdict verdict = _root.TryRemoveReleased(Path, out reason);
            if (verdict is SweepVerdict.Removed or SweepVerdict.InUse)
            {
                return;
            }

            if (verdict is not SweepVerdict.Failed || attempt == RemoveAttempts)
            {
                break;
            }

            Thread.Sleep(RemoveRetryDelay);
        }

        if (Directory.Exists(Path))
        {
            Log.DirectoryLeft(_logger, Path, reason);
        }
    }

    /// <summary>
    /// Removes this user's shadow directories under <paramref name="root"/> whose owning process is gone, and nothing
    /// else: see the class remarks for what makes a directory ours and why no link is ever followed.
    /// </summary>
    /// <param name="root">The shadow root to scan.</param>
    /// <param name="logger">Receives one line per removed directory.</param>
    /// <returns>How many directories were removed.</returns>
    public static int RemoveAbandoned(string root, ILogger? logger = null) =>
        ShadowRoot.Current.RemoveAbandoned(root, logger ?? NullLogger.Instance);
}
