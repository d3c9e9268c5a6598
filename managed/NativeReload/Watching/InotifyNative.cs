using System.Runtime.InteropServices;

namespace NativeReload.Watching;

/// <summary>
/// The few Linux inotify(7) calls the watcher needs, and the event bits it asks for. Declarations only; the meaning is
/// in <see cref="InotifyHub"/>.
/// </summary>
internal static partial class InotifyNative
{
    public const uint InModify = 0x00000002;
    public const uint InAttrib = 0x00000004;
    public const uint InCloseWrite = 0x00000008;
    public const uint InMovedFrom = 0x00000040;
    public const uint InMovedTo = 0x00000080;
    public const uint InCreate = 0x00000100;
    public const uint InDelete = 0x00000200;
    public const uint InDeleteSelf = 0x00000400;
    public const uint InMoveSelf = 0x00000800;
    public const uint InUnmount = 0x00002000;
    public const uint InQueueOverflow = 0x00004000;
    public const uint InIgnored = 0x00008000;
    public const uint InOnlyDir = 0x01000000;
    public const uint InExclUnlink = 0x04000000;

    /// <summary>O_CLOEXEC: a worker process started by the host must not inherit the descriptor.</summary>
    public const int InCloexec = 0x80000;

    /// <summary>Everything that can mean "the library file changed", asked of the directory that holds it.</summary>
    public const uint DirectoryMask = InModify | InAttrib | InCloseWrite | InMovedFrom | InMovedTo | InCreate | InDelete
        | InDeleteSelf | InMoveSelf | InOnlyDir | InExclUnlink;

    /// <summary>The fixed part of <c>struct inotify_event</c>: wd, mask, cookie, len (the name follows).</summary>
    public const int EventHeaderSize = 16;

    public const int Eintr = 4;

    [LibraryImport("libc", EntryPoint = "inotify_init1", SetLastError = true)]
    public static partial int Init(int flags);

    [LibraryImport("libc", EntryPoint = "inotify_add_watch", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int AddWatch(int fd, string path, uint mask);

    [LibraryImport("libc", EntryPoint = "inotify_rm_watch", SetLastError = true)]
    public static partial int RemoveWatch(int fd, int wd);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static unsafe partial nint Read(int fd, byte* buffer, nint count);
}
