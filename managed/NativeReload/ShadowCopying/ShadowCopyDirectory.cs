using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
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
/// Crash cleanup: the directory holds an exclusively locked <c>.owner</c> file while its process
/// lives. A later process that can take that lock knows the owner is gone and removes the directory. Only
/// directories named like ours (<c>nativereload-&lt;pid&gt;-&lt;random&gt;</c>) are ever considered.
/// </para>
/// </remarks>
public sealed partial class ShadowCopyDirectory : IDisposable
{
    /// <summary>Prefix of every per-process shadow directory under the root.</summary>
    public const string DirectoryPrefix = "nativereload-";

    private const string OwnerFileName = ".owner";
    private readonly FileStream _ownerLock;
    private readonly ILogger _logger;
    private bool _disposed;

    private ShadowCopyDirectory(string path, FileStream ownerLock, ILogger logger)
    {
        Path = path;
        _ownerLock = ownerLock;
        _logger = logger;
    }

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
        RemoveAbandoned(root, logger);

        string path = CreateExclusiveDirectory(root);
        var ownerLock = new FileStream(System.IO.Path.Combine(path, OwnerFileName), new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.None, // flock(LOCK_EX) on Unix, a sharing lock on Windows
            Options = FileOptions.None,
        });
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

    /// <summary>Removes the directory and every copy in it. Copies still mapped by the OS are removed by the next process.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _ownerLock.Dispose();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Windows: a DLL that could not be unloaded is still locked. The next start removes it.
            Log.DirectoryLeft(_logger, Path, e.Message);
        }
    }

    /// <summary>Removes shadow directories under <paramref name="root"/> whose owning process is gone.</summary>
    /// <param name="root">The shadow root to scan.</param>
    /// <param name="logger">Receives one line per removed directory.</param>
    /// <returns>How many directories were removed.</returns>
    public static int RemoveAbandoned(string root, ILogger? logger = null)
    {
        logger ??= NullLogger.Instance;
        int removed = 0;
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateDirectories(root, DirectoryPrefix + "*");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }

        foreach (string directory in candidates)
        {
            if (IsAbandoned(directory))
            {
                try
                {
                    Directory.Delete(directory, recursive: true);
                    removed++;
                    Log.AbandonedRemoved(logger, directory);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    Log.AbandonedNotRemoved(logger, directory, e.Message);
                }
            }
        }

        return removed;
    }

    private static bool IsAbandoned(string directory)
    {
        // Only directories this class made: "nativereload-<pid>-<random>". Anything else under the root (a user's
        // "nativereload-main" checkout, a test's temporary directory) is never touched.
        Match name = OwnedName().Match(System.IO.Path.GetFileName(directory));
        if (!name.Success)
        {
            return false;
        }

        bool ownerAlive = !int.TryParse(name.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
            || pid == Environment.ProcessId
            || OperatingSystem.IsWindows()
            || UnixDirectories.ProcessExists(pid);
        string ownerFile = System.IO.Path.Combine(directory, OwnerFileName);
        if (!File.Exists(ownerFile))
        {
            // A directory still being set up has no owner file for a moment: take it only when its process is gone
            // and it is not brand new (or, where pids cannot be checked, when it is clearly old).
            DateTime written = Directory.GetLastWriteTimeUtc(directory);
            return ownerAlive
                ? written < DateTime.UtcNow.AddMinutes(-10)
                : written < DateTime.UtcNow.AddSeconds(-10);
        }

        try
        {
            using var probe = new FileStream(ownerFile, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            return true; // we could take the owner's lock: the owner is gone (even if its pid was reused)
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // locked by a live process, or not ours to touch
        }
    }

    private static string CreateExclusiveDirectory(string root)
    {
        string prefix = $"{DirectoryPrefix}{Environment.ProcessId}-";
        if (!OperatingSystem.IsWindows())
        {
            // mkdtemp: exclusive creation (never reuses or follows an existing entry), mode 0700 whatever the umask;
            // 64 random bits from us plus mkdtemp's own suffix make the name unguessable.
            string created = UnixDirectories.MakeTemporaryDirectory(System.IO.Path.Combine(System.IO.Path.GetFullPath(root), prefix + RandomToken()));
            UnixFileMode mode = File.GetUnixFileMode(created);
            if ((mode & (UnixFileMode)0b000_111_111) != 0)
            {
                throw new IOException($"{created}: shadow directory is accessible to other users (mode {mode}); refusing to use it");
            }

            return created;
        }

        for (int attempt = 0; ; attempt++)
        {
            string path = System.IO.Path.Combine(root, prefix + RandomToken());
            if (Directory.Exists(path) || File.Exists(path))
            {
                continue; // astronomically unlikely; never reuse a name someone else made
            }

            Debug.Assert(attempt < 100);
            return Directory.CreateDirectory(path).FullName;
        }
    }

    [GeneratedRegex(@"^nativereload-([0-9]+)-[0-9A-Za-z]{8,}$", RegexOptions.CultureInvariant)]
    private static partial Regex OwnedName();

    private static string RandomToken() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
}
