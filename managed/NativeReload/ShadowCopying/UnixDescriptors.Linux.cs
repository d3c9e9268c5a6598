using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace NativeReload.ShadowCopying;

/// <summary>Linux's constants and layouts, from the kernel and glibc headers (see <see cref="UnixDescriptors"/>' remarks).</summary>
internal static unsafe partial class UnixDescriptors
{
    private sealed partial class Linux(int oDirectory, int oNoFollow) : Platform
    {
        private const int AT_EMPTY_PATH = 0x1000;
        private const uint STATX_TYPE = 0x1;
        private const uint STATX_MODE = 0x2;
        private const uint STATX_UID = 0x8;

        public override int ODirectory => oDirectory;

        public override int ONoFollow => oNoFollow;

        public override int OCloexec => 0x80000;

        public override int ONonBlock => 0x800;

        public override int AtRemoveDir => 0x200;

        public override int ELoop => 40;

        public override int EWouldBlock => 11;

        public override int DirentNameOffset => 19; // d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name

        private const uint Wanted = STATX_TYPE | STATX_MODE | STATX_UID;

        public override bool TryStat(IUnixCalls calls, SafeFileHandle handle, out uint uid, out int mode)
        {
            // struct statx (linux/stat.h), identical on every architecture: stx_mask u32 @0, stx_uid u32 @20, stx_mode u16 @28.
            byte* buffer = stackalloc byte[StatBufferSize];
            uid = 0;
            mode = 0;
            if (calls.Stat(handle, buffer) != 0 || (*(uint*)buffer & Wanted) != Wanted)
            {
                return false;
            }

            uid = *(uint*)(buffer + 20);
            mode = *(ushort*)(buffer + 28);
            return true;
        }

        public override int Stat(SafeFileHandle file, byte* buffer)
        {
            byte empty = 0;
            return Statx(file, &empty, AT_EMPTY_PATH, Wanted, buffer);
        }

        public override nint FdOpenDir(int fd) => LinuxFdOpenDir(fd);

        public override byte* ReadDir(nint stream) => LinuxReadDir(stream);

        protected override string[] EntryPoints => ["statx", "fdopendir", "readdir"];

        [LibraryImport("libc", EntryPoint = "statx", SetLastError = true)]
        private static partial int Statx(SafeFileHandle dirfd, byte* path, int flags, uint mask, byte* buffer);

        [LibraryImport("libc", EntryPoint = "fdopendir", SetLastError = true)]
        private static partial nint LinuxFdOpenDir(int fd);

        [LibraryImport("libc", EntryPoint = "readdir", SetLastError = true)]
        private static partial byte* LinuxReadDir(nint stream);
    }
}
