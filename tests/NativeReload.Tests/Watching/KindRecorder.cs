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

    /// <summary>
    /// The inotify watches this process holds, from /proc (on Linux each <see cref="FileSystemWatcher"/> holds one,
    /// whether or not the runtime shares one inotify instance between watchers).
    /// </summary>
    public static int InotifyWatches()
    {
        int watches = 0;
        foreach (string fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is "anon_inode:inotify")
                {
                    watches += File.ReadLines(Path.Combine("/proc/self/fdinfo", Path.GetFileName(fd)))
                        .Count(line => line.StartsWith("inotify wd:", StringComparison.Ordinal));
                }
            }
            catch (IOException)
            {
                // closed while we looked
            }
        }

        return watches;
    }
}
