using System.Collections.Concurrent;
using NativeReload.Watching;

namespace NativeReload.Tests.Watching;

/// <summary>Keeps every <see cref="FileChangeKind"/> one subscriber heard, for tests of the watch layers.</summary>
internal sealed class KindRecorder
{
    private readonly ConcurrentQueue<FileChangeKind> _kinds = new();

    public Action<FileChangeKind> Callback => _kinds.Enqueue;

    public FileChangeKind[] Kinds => [.. _kinds];

    public void Clear() => _kinds.Clear();

    /// <summary>Proc's count of this process's inotify instances (each <see cref="FileSystemWatcher"/> holds one on Linux).</summary>
    public static int InotifyInstances() =>
        Directory.EnumerateFileSystemEntries("/proc/self/fd")
            .Count(fd => new FileInfo(fd).LinkTarget is "anon_inode:inotify");
}
