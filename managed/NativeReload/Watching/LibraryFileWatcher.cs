using Microsoft.Extensions.Logging;

namespace NativeReload.Watching;

/// <summary>
/// Notices every change to one library path: a <see cref="FileSystemWatcher"/> on its directory (linkers replace
/// the file, so watching the file itself would go deaf) and, because watchers do go deaf (the directory is deleted
/// and re-created by <c>cargo clean</c>, network shares, overflowing event queues), a polling fallback that compares
/// <see cref="FileStamp"/>s and re-creates the watchers when it sees a change they missed.
/// </summary>
/// <remarks>
/// It only reports; deciding whether the file is complete is the reload pipeline's job. Tools differ: GNU ld
/// gives Deleted, Created (empty), then a burst of Changed; lld and mold give one Renamed; <c>cp</c> gives Changed.
/// All of them count. When the path is a symbolic link, the directory of its target is watched too.
/// </remarks>
internal sealed class LibraryFileWatcher : IDisposable
{
    private readonly string _path;
    private readonly Action<FileChangeKind> _onChange;
    private readonly ILogger _logger;
    private readonly Timer _pollTimer;
    private readonly Lock _gate = new();
    private readonly List<FileSystemWatcher> _watchers = [];
    private FileStamp _lastStamp;
    private long _eventsSinceLastPoll;
    private bool _disposed;

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

    /// <summary>How many times the watchers were re-created because polling saw a change they missed.</summary>
    public int WatcherRestarts { get; private set; }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _pollTimer.Dispose();
            DisposeWatchers();
        }
    }

    private void Poll()
    {
        FileStamp stamp = FileStamp.Capture(_path);
        bool missedByWatchers;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            FileStamp previous = _lastStamp;
            _lastStamp = stamp;
            long events = Interlocked.Exchange(ref _eventsSinceLastPoll, 0);
            if (stamp == previous)
            {
                if (_watchers.Count == 0)
                {
                    CreateWatchers(); // the directory may exist again
                }

                return;
            }

            missedByWatchers = events == 0;
            bool targetMoved = !string.Equals(stamp.ResolvedPath, previous.ResolvedPath, StringComparison.Ordinal);
            if (missedByWatchers)
            {
                WatcherRestarts++;
                Log.WatcherDeaf(_logger, _path);
            }

            if (missedByWatchers || targetMoved)
            {
                CreateWatchers();
            }
        }

        _onChange(FileChangeKind.Polled);
    }

    private void CreateWatchers()
    {
        DisposeWatchers();
        TryWatch(_path);
        if (_lastStamp.LinkTarget is not null && !string.Equals(_lastStamp.ResolvedPath, _path, StringComparison.Ordinal))
        {
            TryWatch(_lastStamp.ResolvedPath);
        }
    }

    private void TryWatch(string file)
    {
        string? directory = Path.GetDirectoryName(file);
        if (directory is null || !Directory.Exists(directory))
        {
            return; // polling keeps watching until the directory exists again
        }

        try
        {
            var watcher = new FileSystemWatcher(directory, Path.GetFileName(file))
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size
                    | NotifyFilters.CreationTime | NotifyFilters.Attributes | NotifyFilters.Security,
                IncludeSubdirectories = false,
                InternalBufferSize = 64 * 1024,
            };
            watcher.Created += (_, _) => Raise(FileChangeKind.Created);
            watcher.Changed += (_, _) => Raise(FileChangeKind.Changed);
            watcher.Deleted += (_, _) => Raise(FileChangeKind.Deleted);
            watcher.Renamed += (_, _) => Raise(FileChangeKind.Renamed);
            watcher.Error += (_, e) =>
            {
                Log.WatcherError(_logger, e.GetException(), _path);
                Raise(FileChangeKind.Changed);
            };
            watcher.EnableRaisingEvents = true;
            _watchers.Add(watcher);
        }
        catch (Exception e) when (e is IOException or ArgumentException or PlatformNotSupportedException or UnauthorizedAccessException)
        {
            Log.CannotWatch(_logger, directory, e.Message);
        }
    }

    private void Raise(FileChangeKind kind)
    {
        Interlocked.Increment(ref _eventsSinceLastPoll);
        _onChange(kind);
    }

    private void DisposeWatchers()
    {
        foreach (FileSystemWatcher watcher in _watchers)
        {
            watcher.Dispose();
        }

        _watchers.Clear();
    }
}
