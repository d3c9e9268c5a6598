using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

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
public sealed partial class ShadowCopyDirectory : IDisposable
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> s_sweptRoots = new(StringComparer.Ordinal);

    /// <summary>Prefix of every per-process shadow directory under the root.</summary>
    public const string DirectoryPrefix = "nativereload-";

    /// <summary>Name of the lock file whose lock marks a directory as in use.</summary>
    internal const string OwnerFileName = ".owner";

    // How long Dispose keeps trying to remove a copy the OS still holds: 10 tries, 50 ms apart.
    private const int RemoveAttempts = 10;
    private static readonly TimeSpan RemoveRetryDelay = TimeSpan.FromMilliseconds(50);

    private const string StagingPrefix = ".";
    private static int s_sweepUnavailableLogged;
    private readonly FileStream _ownerLock;
    private readonly ILogger _logger;
    private bool _disposed;

    private ShadowCopyDirectory(string path, FileStream ownerLock, ILogger logger)
    {
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
    public static ShadowCopyDirectory Create(string? root = null, ILogger? logger = null)
    {
        logger ??= NullLogger.Instance;
        root ??= DefaultRoot();
        Directory.CreateDirectory(root);
        if (s_sweptRoots.TryAdd(System.IO.Path.GetFullPath(root), true))
        {
            // Once per root and process: what a crashed process left is there at start; sweeping again for every
            // library cost ~15 ms each beside 1,000 live directories (lock-probing every one), for nothing new.
            RemoveAbandoned(root, logger);
        }

        (string path, FileStream ownerLock) = OperatingSystem.IsWindows() ? CreateOnWindows(root) : CreateOnUnix(root);
        Log.ShadowDirectoryCreated(logger, path);
        return new ShadowCopyDirectory(path, ownerLock, logger);
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
        string name = $"{stem}.g{generation}.{RandomToken()}{extension}";
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
            SweepVerdict verdict = TryRemoveReleased(out reason);
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

    private SweepVerdict TryRemoveReleased(out string reason)
    {
        if (OperatingSystem.IsWindows())
        {
            return WindowsAbandonedDirectory.TryRemove(new DirectoryInfo(Path), out reason);
        }

        if (!UnixDescriptors.IsSupported)
        {
            try
            {
                Directory.Delete(Path, recursive: true);
                reason = string.Empty;
                return SweepVerdict.Removed;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                reason = e.Message;
                return SweepVerdict.Failed;
            }
        }

        using SafeFileHandle? rootHandle = UnixDescriptors.OpenDirectory(System.IO.Path.GetDirectoryName(Path)!, out int errno);
        if (rootHandle is null)
        {
            reason = Marshal.GetPInvokeErrorMessage(errno);
            return SweepVerdict.Failed;
        }

        return UnixAbandonedDirectory.TryRemove(rootHandle, System.IO.Path.GetFileName(Path), out reason);
    }

    /// <summary>
    /// Removes this user's shadow directories under <paramref name="root"/> whose owning process is gone, and nothing
    /// else: see the class remarks for what makes a directory ours and why no link is ever followed.
    /// </summary>
    /// <param name="root">The shadow root to scan.</param>
    /// <param name="logger">Receives one line per removed directory.</param>
    /// <returns>How many directories were removed.</returns>
    public static int RemoveAbandoned(string root, ILogger? logger = null)
    {
        logger ??= NullLogger.Instance;
        if (OperatingSystem.IsWindows())
        {
            return RemoveAbandonedOnWindows(root, logger);
        }

        if (!UnixDescriptors.IsSupported)
        {
            if (Interlocked.Exchange(ref s_sweepUnavailableLogged, 1) == 0)
            {
                Log.SweepUnavailable(logger, root, UnixDescriptors.UnsupportedReason);
            }

            return 0;
        }

        using SafeFileHandle? rootHandle = UnixDescriptors.OpenDirectory(root, out _);
        if (rootHandle is null)
        {
            return 0;
        }

        List<string> names;
        try
        {
            names = UnixDescriptors.ReadNames(rootHandle);
        }
        catch (IOException)
        {
            return 0;
        }

        int removed = 0;
        foreach (string name in names)
        {
            if (OwnedName().IsMatch(name))
            {
                SweepVerdict verdict = UnixAbandonedDirectory.TryRemove(rootHandle, name, out string reason);
                removed += Report(logger, System.IO.Path.Combine(root, name), verdict, reason);
            }
        }

        return removed;
    }

    [SupportedOSPlatform("windows")]
    private static int RemoveAbandonedOnWindows(string root, ILogger logger)
    {
        IEnumerable<DirectoryInfo> candidates;
        try
        {
            candidates = new DirectoryInfo(root).EnumerateDirectories(DirectoryPrefix + "*").ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }

        int removed = 0;
        foreach (DirectoryInfo directory in candidates)
        {
            if (OwnedName().IsMatch(directory.Name))
            {
                SweepVerdict verdict = WindowsAbandonedDirectory.TryRemove(directory, out string reason);
                removed += Report(logger, directory.FullName, verdict, reason);
            }
        }

        return removed;
    }

    private static int Report(ILogger logger, string path, SweepVerdict verdict, string reason)
    {
        switch (verdict)
        {
            case SweepVerdict.Removed:
                Log.AbandonedRemoved(logger, path);
                return 1;
            case SweepVerdict.Failed:
                Log.AbandonedNotRemoved(logger, path, reason);
                return 0;
            case SweepVerdict.NotOurs:
                Log.ShadowDirectorySkipped(logger, path, reason);
                return 0;
            default:
                return 0; // in use: the normal case for every other running host
        }
    }

    /// <summary>
    /// mkdtemp under a staging name the sweep never matches, the locked lock file inside, then the rename to the final
    /// name: the directory appears under a sweepable name already locked.
    /// </summary>
    [UnsupportedOSPlatform("windows")]
    private static (string Path, FileStream OwnerLock) CreateOnUnix(string root)
    {
        // mkdtemp: exclusive creation (never reuses or follows an existing entry), mode 0700 whatever the umask;
        // 64 random bits from us plus mkdtemp's own suffix make the name unguessable.
        string fullRoot = System.IO.Path.GetFullPath(root);
        string staging = UnixDirectories.MakeTemporaryDirectory(
            System.IO.Path.Combine(fullRoot, $"{StagingPrefix}{DirectoryPrefix}{Environment.ProcessId}-{RandomToken()}"));
        FileStream? ownerLock = null;
        try
        {
            UnixFileMode mode = File.GetUnixFileMode(staging);
            if ((mode & (UnixFileMode)0b000_111_111) != 0)
            {
                throw new IOException($"{staging}: shadow directory is accessible to other users (mode {mode}); refusing to use it");
            }

            ownerLock = CreateOwnerLock(staging);
            string path = System.IO.Path.Combine(fullRoot, System.IO.Path.GetFileName(staging)[StagingPrefix.Length..]);
            Directory.Move(staging, path); // rename(2): atomic; fails rather than replace an existing entry
            return (path, ownerLock);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ownerLock?.Dispose();
            TryDeleteStaging(staging);
            throw new IOException($"{staging}: cannot set up the shadow directory: {e.Message}", e);
        }
    }

    private static void TryDeleteStaging(string staging)
    {
        try
        {
            File.Delete(System.IO.Path.Combine(staging, OwnerFileName));
            Directory.Delete(staging, recursive: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // left behind: an empty staging directory, never swept (see the remarks)
        }
    }

    [SupportedOSPlatform("windows")]
    private static (string Path, FileStream OwnerLock) CreateOnWindows(string root)
    {
        string prefix = $"{DirectoryPrefix}{Environment.ProcessId}-";
        for (int attempt = 0; ; attempt++)
        {
            string path = System.IO.Path.Combine(root, prefix + RandomToken());
            if (Directory.Exists(path) || File.Exists(path))
            {
                continue; // astronomically unlikely; never reuse a name someone else made
            }

            Debug.Assert(attempt < 100);
            string created = Directory.CreateDirectory(path).FullName;
            return (created, CreateOwnerLock(created)); // created and share-locked in one CreateFile call
        }
    }

    private static FileStream CreateOwnerLock(string directory) =>
        new(System.IO.Path.Combine(directory, OwnerFileName), new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.None, // flock(LOCK_EX) on Unix, a sharing lock on Windows
            Options = FileOptions.None,
        });

    // Exactly the names Create makes: mkdtemp's 6 characters on Unix, none on Windows.
    [GeneratedRegex(@"^nativereload-[0-9]+-[0-9a-f]{16}([0-9A-Za-z]{6})?$", RegexOptions.CultureInvariant)]
    private static partial Regex OwnedName();

    private static string RandomToken() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
}
