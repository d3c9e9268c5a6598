using Microsoft.Extensions.Logging;

namespace NativeReload.Watching;

/// <summary>
/// Notices every change to one library path: a watch on its directory (linkers replace the file, so watching the file
/// itself would go deaf), through the process's shared <see cref="InotifyHub"/> on Linux (which also says when a writer
/// closed the file) and a <see cref="FileSystemWatcher"/> per directory shared by its libraries elsewhere
/// (<see cref="DirectoryWatcherHub"/>); and, because watchers do go deaf (the directory is deleted
/// and re-created by <c>cargo clean</c>, network shares, overflowing event queues), a polling fallback that compares
/// <see cref="FileStamp"/>s and re-creates the watchers when it sees a change they missed.
/// </summary>
/// <remarks>
/// It only reports; deciding whether the file is complete is the reload pipeline's job. Tools differ: GNU ld
/// gives Deleted, Created (empty), then a burst of Changed; lld and mold give one Renamed; <c>cp</c> gives Changed.
/// With inotify the in-place writers end with Closed (and often Attributes, their <c>chmod</c>). All of them count. When the path is a symbolic link, the directory of its target is watched too.
/// </remarks>
internal sealed class LibraryFileWatcher : IDisposable
{
    private readonly string _path;
    private readonly Action<FileChangeKind> _onChange;
    private readonly ILogger _logger;
    private readonly Timer _pollTimer;
    private readonly Lock _gate = new();
    private readonly List<IDisposable> _watchers = [];
    private FileStamp _lastStamp;
    private long _eventsSinceLastPoll;
    private long _deletesSinceLastPoll;
    private bool _directoryLost;
    private bool _disposed;

    /// <summary>
    /// Test seam: false makes new watchers use the shared <see cref="FileSystemWatcher"/>s (the macOS and Windows path)
    /// on Linux too. True (always, outside the tests).
    /// </summary>
    internal static bool UseInotify { get; set; } = true;

    public LibraryFileWatcher(string path, TimeSpan pollInterval, Action<FileChangeKind> onChange, ILogger logger)
    {
        _path = Path.GetFullPath(path);
        _onChange = onChange;
        _logger = logger;
        _lastStamp = FileStamp.Capture(_path);
        lock (_gate)
        {
            CreateWatchers();
        }

        _pollTimer = new Timer(_ => Poll(), null, pollInterval, pollInterval);
    }

    /// <summary>Watches held now: 1 per watched directory (2 for a symbolic link into another directory); tests and diagnostics.</summary>
    internal int WatchCount
    {
        get
        {
            lock (_gate)
            {
                return _watchers.Count;
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _pollTimer.Dispose();
            DisposeWatchers();
        }
    }

    /// <summary>One polling round; the timer calls it, and tests call it to poll at a moment they choose.</summary>
    internal void Poll()
    {
        FileStamp stamp = FileStamp.Capture(_path);
        if (PollLocked(stamp))
        {
            _onChange(FileChangeKind.Polled);
        }
    }

    /// <summary>Compares with the last stamp and repairs the watchers; true when the change must be reported.</summary>
    private bool PollLocked(FileStamp stamp)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return false;
            }

            FileStamp previous = _lastStamp;
            _lastStamp = stamp;
            long events = Interlocked.Exchange(ref _eventsSinceLastPoll, 0);
            long deletes = Interlocked.Exchange(ref _deletesSinceLastPoll, 0);

            // A watched directory that was deleted (cargo clean, rm -rf build) leaves its watcher deaf for good, even
            // when a directory of the same name comes back: drop the watchers now, re-create them once it exists.
            if (!WatchedDirectoriesExist())
            {
                if (!_directoryLost)
                {
                    _directoryLost = true;
                    DisposeWatchers();
                    Log.WatchedDirectoryGone(_logger, _path);
                }
            }
            else if (_directoryLost)
            {
                _directoryLost = false;
                CreateWatchers(renew: true);
                return true; // the directory came back: look at the file even if its stamp looks the same
            }
            else if (stamp == previous && _watchers.Count == 0)
            {
                CreateWatchers(); // the directory may exist again
            }

            if (stamp == previous)
            {
                return false;
            }

            bool missedByWatchers = events == 0;

            // Only deletes heard, yet the file is not as it was after them: what came next was missed. The directory
            // itself was deleted and re-created (a shared FileSystemWatcher is then deaf until renewed), or the file is
            // simply gone (renewing costs one watcher).
            bool deafAfterDelete = deletes > 0 && deletes == events;
            bool targetMoved = !string.Equals(stamp.ResolvedPath, previous.ResolvedPath, StringComparison.Ordinal)
                || !string.Equals(stamp.LinkTarget, previous.LinkTarget, StringComparison.Ordinal);
            if (missedByWatchers)
            {
                Log.WatcherDeaf(_logger, _path);
            }

            // Re-create after anything that can leave a watcher on a stale directory: a miss, a delete (the
            // directory itself may have gone and come back between two polls), or a symlink now pointing elsewhere.
            if (missedByWatchers || targetMoved || deletes > 0)
            {
                CreateWatchers(renew: missedByWatchers || deafAfterDelete);
            }

            // Report only what the watchers did not: a change they reported is already being handled, and a second,
            // "polled" signal would replace a rename's 5 ms debounce by the 50 ms quiet period of in-place writes.
            return missedByWatchers || targetMoved;
        }
    }

    private bool WatchedDirectoriesExist()
    {
        if (!DirectoryOf(_path))
        {
            return false;
        }

        return _lastStamp.LinkTarget is null || DirectoryOf(_lastStamp.ResolvedPath);

        static bool DirectoryOf(string file) => Path.GetDirectoryName(file) is { } directory && Directory.Exists(directory);
    }

    private void CreateWatchers(bool renew = false)
    {
        // The new watches first, the old ones after: on the same directory inode they share one inotify watch, which
        // therefore never goes away in between. Removing first opened a window in which a change was lost for good
        // (mold's unlink, then its rename in the window: the poll saw the unlink as "reported" and stayed quiet).
        IDisposable[] old = [.. _watchers];
        _watchers.Clear();
        TryWatch(_path, renew);
        if (_lastStamp.LinkTarget is not null && !string.Equals(_lastStamp.ResolvedPath, _path, StringComparison.Ordinal))
        {
            TryWatch(_lastStamp.ResolvedPath, renew);
        }

        foreach (IDisposable watcher in old)
        {
            watcher.Dispose();
        }
    }

    /// <param name="file">The library path, or the target of its symbolic link.</param>
    /// <param name="renew">The watch was found deaf: a shared <see cref="FileSystemWatcher"/> must be replaced (an
    /// inotify watch needs nothing: adding it again binds it to the directory's inode as it is now).</param>
    private void TryWatch(string file, bool renew)
    {
        string? directory = Path.GetDirectoryName(file);
        if (directory is null || !Directory.Exists(directory))
        {
            return; // polling keeps watching until the directory exists again
        }

        if (UseInotify && InotifyHub.Shared is { } hub)
        {
            try
            {
                _watchers.Add(hub.Watch(directory, Path.GetFileName(file), Raise));
                return;
            }
            catch (IOException e)
            {
                Log.CannotWatch(_logger, directory, e.Message);
                return;
            }
        }

        if (UseInotify && OperatingSystem.IsLinux())
        {
            // No inotify instance left for this user (fs.inotify.max_user_instances) or no inotify at all: the shared
            // FileSystemWatcher still notices changes, only without close events (the quiet period applies).
            Log.CannotWatch(_logger, directory, $"{InotifyHub.UnavailableReason}; using FileSystemWatcher");
        }

        try
        {
            _watchers.Add(DirectoryWatcherHub.Shared.Watch(directory, Path.GetFileName(file), Raise, renew, error =>
            {
                Log.WatcherError(_logger, error, _path);
                Raise(FileChangeKind.Changed);
            }));
        }
        catch (Exception e) when (e is IOException or ArgumentException or PlatformNotSupportedException or UnauthorizedAccessException)
        {
            Log.CannotWatch(_logger, directory, e.Message);
        }
    }

    private void Raise(FileChangeKind kind)
    {
        if (kind == FileChangeKind.Deleted)
        {
            Interlocked.Increment(ref _deletesSinceLastPoll);
        }

        Interlocked.Increment(ref _eventsSinceLastPoll);
        _onChange(kind);
    }

    private void DisposeWatchers()
    {
        foreach (IDisposable watcher in _watchers)
        {
            watcher.Dispose();
        }

        _watchers.Clear();
    }
}
