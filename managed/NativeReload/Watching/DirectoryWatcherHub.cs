namespace NativeReload.Watching;

/// <summary>
/// One <see cref="FileSystemWatcher"/> per watched directory, shared by every library in it (macOS, Windows, and
/// Linux when inotify is not available): a plugin folder of a hundred libraries costs one watcher, not a hundred.
/// </summary>
/// <remarks>
/// The watcher reports every name in the directory; each event goes to the subscribers of that name (compared as the
/// file system does: ignoring case on Windows and macOS). A rename away from the name is a delete for it. Because a
/// shared watcher outlives any one subscriber, a subscriber that found it deaf asks for a new one
/// (<c>renew</c>), which replaces it for every subscriber of the directory.
/// </remarks>
internal sealed class DirectoryWatcherHub
{
    private static readonly StringComparer s_names = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS()
        ? StringComparer.OrdinalIgnoreCase
        : StringComparer.Ordinal;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, SharedWatcher> _byDirectory = new(s_names);

    /// <summary>The process's hub.</summary>
    public static DirectoryWatcherHub Shared { get; } = new();

    /// <summary>Number of directories watched now (tests and diagnostics).</summary>
    public int WatchedDirectoryCount
    {
        get
        {
            lock (_gate)
            {
                return _byDirectory.Count;
            }
        }
    }

    /// <summary>Reports changes to <paramref name="fileName"/> in <paramref name="directory"/> until the subscription is disposed.</summary>
    /// <param name="directory">Full path of the directory.</param>
    /// <param name="fileName">The name to report.</param>
    /// <param name="onChange">Called on a watcher thread; must be quick.</param>
    /// <param name="renew">The caller found the directory's watcher deaf: replace it (for every subscriber).</param>
    /// <param name="onError">Called with the watcher's own error (its buffer overflowed, the directory went away).</param>
    /// <exception cref="IOException">The directory cannot be watched.</exception>
    public IDisposable Watch(string directory, string fileName, Action<FileChangeKind> onChange, bool renew, Action<Exception?> onError)
    {
        lock (_gate)
        {
            if (!_byDirectory.TryGetValue(directory, out SharedWatcher? shared))
            {
                shared = new SharedWatcher(this, directory);
                _byDirectory.Add(directory, shared);
            }
            else if (renew)
            {
                shared.Renew();
            }

            var subscription = new Subscription(shared, fileName, onChange, onError);
            shared.Subscribers = [.. shared.Subscribers, subscription];
            return subscription;
        }
    }

    private void Unsubscribe(Subscription subscription)
    {
        lock (_gate)
        {
            SharedWatcher shared = subscription.Owner;
            shared.Subscribers = [.. shared.Subscribers.Where(s => !ReferenceEquals(s, subscription))];
            if (shared.Subscribers.Length == 0)
            {
                _byDirectory.Remove(shared.Directory);
                shared.Dispose();
            }
        }
    }

    private sealed class SharedWatcher : IDisposable
    {
        private FileSystemWatcher _watcher;

        public SharedWatcher(DirectoryWatcherHub hub, string directory)
        {
            Hub = hub;
            Directory = directory;
            _watcher = Create();
        }

        public DirectoryWatcherHub Hub { get; }

        public string Directory { get; }

        /// <summary>Replaced (copy on write) under the hub's lock; read as a snapshot by the watcher's threads.</summary>
        public Subscription[] Subscribers { get; set; } = [];

        public void Renew()
        {
            FileSystemWatcher fresh = Create(); // throws (and keeps the old one) when the directory cannot be watched
            _watcher.Dispose();
            _watcher = fresh;
        }

        public void Dispose() => _watcher.Dispose();

        private FileSystemWatcher Create()
        {
            var watcher = new FileSystemWatcher(Directory)
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size
                    | NotifyFilters.CreationTime | NotifyFilters.Attributes | NotifyFilters.Security,
                IncludeSubdirectories = false,
                InternalBufferSize = 64 * 1024,
            };
            watcher.Created += (_, e) => Deliver(e.Name, FileChangeKind.Created);
            watcher.Changed += (_, e) => Deliver(e.Name, FileChangeKind.Changed);
            watcher.Deleted += (_, e) => Deliver(e.Name, FileChangeKind.Deleted);
            watcher.Renamed += (_, e) =>
            {
                Deliver(e.OldName, FileChangeKind.Deleted);
                Deliver(e.Name, FileChangeKind.Renamed);
            };
            watcher.Error += (_, e) =>
            {
                foreach (Subscription s in Subscribers)
                {
                    s.Fail(e.GetException());
                }
            };
            watcher.EnableRaisingEvents = true;
            return watcher;
        }

        private void Deliver(string? name, FileChangeKind kind)
        {
            if (name is null)
            {
                return;
            }

            foreach (Subscription s in Subscribers)
            {
                if (s_names.Equals(s.FileName, name))
                {
                    s.Raise(kind);
                }
            }
        }
    }

    private sealed class Subscription(SharedWatcher owner, string fileName, Action<FileChangeKind> onChange, Action<Exception?> onError) : IDisposable
    {
        private int _disposed;

        public SharedWatcher Owner { get; } = owner;

        public string FileName { get; } = fileName;

        public void Raise(FileChangeKind kind)
        {
            if (Volatile.Read(ref _disposed) == 0)
            {
                onChange(kind);
            }
        }

        public void Fail(Exception? error)
        {
            if (Volatile.Read(ref _disposed) == 0)
            {
                onError(error);
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Owner.Hub.Unsubscribe(this);
            }
        }
    }
}
