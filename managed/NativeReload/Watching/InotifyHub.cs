using System.Runtime.InteropServices;
using System.Text;

namespace NativeReload.Watching;

/// <summary>
/// One inotify descriptor and one reader thread for the whole process (Linux): every watched library subscribes to a
/// file name in a directory, and directories watched by several libraries share one inotify watch.
/// </summary>
/// <remarks>
/// <para>Why inotify and not <see cref="FileSystemWatcher"/>: it says when a writer closed the file
/// (<c>IN_CLOSE_WRITE</c>), so a file written in place (GNU ld, gold, <c>cp</c>, <c>install</c>) can be read at once
/// instead of after a quiet period; and one descriptor serves any number of libraries (the kernel allows 128 inotify
/// instances per user by default, one per <see cref="FileSystemWatcher"/> in older runtimes).</para>
/// <para>The descriptor and its thread live as long as the process: nothing is owned per library but a watch on its
/// directory, removed when the last subscriber of that directory leaves. Callbacks run on the reader thread and must
/// be quick (record the change, wake someone); they are called outside the hub's lock.</para>
/// </remarks>
internal sealed class InotifyHub
{
    private const int BufferSize = 64 * 1024;

    private static readonly Lazy<InotifyHub?> s_shared = new(Create, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly int _fd;
    private readonly Lock _gate = new();
    private readonly Dictionary<int, WatchedDirectory> _byDescriptor = [];
    private readonly Thread _reader;

    private InotifyHub(int fd)
    {
        _fd = fd;
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "NativeReload inotify" };
        _reader.Start();
    }

    /// <summary>The process's hub; null where inotify is not available (not Linux, or no inotify instance left).</summary>
    public static InotifyHub? Shared => OperatingSystem.IsLinux() ? s_shared.Value : null;

    /// <summary>Why <see cref="Shared"/> is null on Linux, for the log; null when it is not.</summary>
    public static string? UnavailableReason { get; private set; }

    /// <summary>Number of directories watched now (tests and diagnostics).</summary>
    public int WatchedDirectoryCount
    {
        get
        {
            lock (_gate)
            {
                return _byDescriptor.Count;
            }
        }
    }

    /// <summary>
    /// Reports changes to <paramref name="fileName"/> in <paramref name="directory"/> to <paramref name="onChange"/>
    /// until the returned subscription is disposed. The watch is on the directory's inode as it is now: when the
    /// directory is deleted and re-created, the subscriber hears <see cref="FileChangeKind.Deleted"/> and must
    /// subscribe again.
    /// </summary>
    /// <exception cref="IOException">The directory cannot be watched (missing, permission, watch limit); the message says why.</exception>
    public IDisposable Watch(string directory, string fileName, Action<FileChangeKind> onChange)
    {
        lock (_gate)
        {
            int wd = InotifyNative.AddWatch(_fd, directory, InotifyNative.DirectoryMask);
            if (wd < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                string hint = errno == 28 // ENOSPC
                    ? " (the inotify watch limit is reached: raise fs.inotify.max_user_watches)"
                    : string.Empty;
                throw new IOException($"inotify_add_watch: {Marshal.GetPInvokeErrorMessage(errno)}{hint}");
            }

            if (!_byDescriptor.TryGetValue(wd, out WatchedDirectory? watched))
            {
                watched = new WatchedDirectory(wd);
                _byDescriptor.Add(wd, watched);
            }

            var subscription = new Subscription(this, watched, Encoding.UTF8.GetBytes(fileName), onChange);
            watched.Subscribers = [.. watched.Subscribers, subscription];
            return subscription;
        }
    }

    private static InotifyHub? Create()
    {
        int fd = InotifyNative.Init(InotifyNative.InCloexec);
        if (fd < 0)
        {
            UnavailableReason = $"inotify_init1: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}";
            return null;
        }

        return new InotifyHub(fd);
    }

    private void Unsubscribe(Subscription subscription)
    {
        lock (_gate)
        {
            WatchedDirectory watched = subscription.Directory;
            watched.Subscribers = [.. watched.Subscribers.Where(s => !ReferenceEquals(s, subscription))];
            if (watched.Subscribers.Length == 0
                && _byDescriptor.TryGetValue(watched.Descriptor, out WatchedDirectory? registered)
                && ReferenceEquals(registered, watched))
            {
                _byDescriptor.Remove(watched.Descriptor);
                _ = InotifyNative.RemoveWatch(_fd, watched.Descriptor); // EINVAL when the directory is already gone
            }
        }
    }

    private unsafe void ReadLoop()
    {
        byte[] buffer = GC.AllocateArray<byte>(BufferSize, pinned: true);
        fixed (byte* start = buffer)
        {
            while (true)
            {
                nint read = InotifyNative.Read(_fd, start, BufferSize);
                if (read < 0)
                {
                    if (Marshal.GetLastPInvokeError() == InotifyNative.Eintr)
                    {
                        continue;
                    }

                    return; // the descriptor broke: every library's polling fallback still sees changes
                }

                Dispatch(buffer.AsSpan(0, (int)read));
            }
        }
    }

    private void Dispatch(ReadOnlySpan<byte> events)
    {
        while (events.Length >= InotifyNative.EventHeaderSize)
        {
            int wd = MemoryMarshal.Read<int>(events);
            uint mask = MemoryMarshal.Read<uint>(events[4..]);
            int nameLength = (int)MemoryMarshal.Read<uint>(events[12..]);
            int size = InotifyNative.EventHeaderSize + nameLength;
            if (size > events.Length)
            {
                return; // the kernel never splits an event; a short read would be a bug to tolerate, not to crash on
            }

            ReadOnlySpan<byte> name = events.Slice(InotifyNative.EventHeaderSize, nameLength);
            int end = name.IndexOf((byte)0);
            Deliver(wd, mask, end < 0 ? name : name[..end]);
            events = events[size..];
        }
    }

    private void Deliver(int wd, uint mask, ReadOnlySpan<byte> name)
    {
        if ((mask & InotifyNative.InQueueOverflow) != 0)
        {
            // Events were lost: every subscriber looks again (a plain change: the quiet period and the checks apply).
            foreach (Subscription s in AllSubscribers())
            {
                s.Raise(FileChangeKind.Changed);
            }

            return;
        }

        Subscription[] subscribers;
        lock (_gate)
        {
            if (!_byDescriptor.TryGetValue(wd, out WatchedDirectory? watched))
            {
                return;
            }

            subscribers = watched.Subscribers;
            if ((mask & InotifyNative.InIgnored) != 0)
            {
                _byDescriptor.Remove(wd); // the directory is gone (or unmounted): its subscribers renew when it is back
                return;
            }
        }

        if ((mask & (InotifyNative.InDeleteSelf | InotifyNative.InMoveSelf | InotifyNative.InUnmount)) != 0)
        {
            foreach (Subscription s in subscribers)
            {
                s.Raise(FileChangeKind.Deleted);
            }

            return;
        }

        FileChangeKind? kind = KindOf(mask);
        if (kind is null)
        {
            return;
        }

        foreach (Subscription s in subscribers)
        {
            if (name.SequenceEqual(s.FileName))
            {
                s.Raise(kind.Value);
            }
        }
    }

    /// <summary>What an event on a file in the watched directory means for a library at that name.</summary>
    private static FileChangeKind? KindOf(uint mask)
    {
        if ((mask & InotifyNative.InCloseWrite) != 0)
        {
            return FileChangeKind.Closed;
        }

        if ((mask & InotifyNative.InMovedTo) != 0)
        {
            return FileChangeKind.Renamed;
        }

        if ((mask & InotifyNative.InCreate) != 0)
        {
            return FileChangeKind.Created;
        }

        if ((mask & (InotifyNative.InDelete | InotifyNative.InMovedFrom)) != 0)
        {
            return FileChangeKind.Deleted;
        }

        if ((mask & InotifyNative.InModify) != 0)
        {
            return FileChangeKind.Changed;
        }

        return (mask & InotifyNative.InAttrib) != 0 ? FileChangeKind.Attributes : null;
    }

    private Subscription[] AllSubscribers()
    {
        lock (_gate)
        {
            return [.. _byDescriptor.Values.SelectMany(w => w.Subscribers)];
        }
    }

    /// <summary>One inotify watch and the libraries that listen to names in it.</summary>
    private sealed class WatchedDirectory(int descriptor)
    {
        public int Descriptor { get; } = descriptor;

        /// <summary>Replaced (copy on write) under the hub's lock; read as a snapshot by the reader thread.</summary>
        public Subscription[] Subscribers { get; set; } = [];
    }

    private sealed class Subscription(InotifyHub hub, WatchedDirectory directory, byte[] fileName, Action<FileChangeKind> onChange) : IDisposable
    {
        private int _disposed;

        public WatchedDirectory Directory { get; } = directory;

        public byte[] FileName { get; } = fileName;

        public void Raise(FileChangeKind kind)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                return;
            }

            try
            {
                onChange(kind);
            }
            catch (Exception)
            {
                // never let one subscriber end the reader thread: every library in the process would go deaf
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                hub.Unsubscribe(this);
            }
        }
    }
}
