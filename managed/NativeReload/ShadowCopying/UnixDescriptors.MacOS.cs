using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace NativeReload.ShadowCopying;

/// <summary>
/// macOS's constants and layouts, from the SDK headers. In a file of its own because it runs only on macOS: no test on
/// Linux reaches it, and mutation scores on Linux list it apart.
/// </summary>
internal static unsafe partial class UnixDescriptors
{
    private sealed partial class MacOS(bool inode64Suffix) : Platform
    {
        public override int ODirectory => 0x100000;

        public override int ONoFollow => 0x100;

        public override int OCloexec => 0x1000000;

        public override int ONonBlock => 0x4;

        public override int AtRemoveDir => 0x80;

        public override int ELoop => 62;

        public override int EWouldBlock => 35;

        public override int DirentNameOffset => 21; // d_ino u64, d_seekoff u64, d_reclen u16, d_namlen u16, d_type u8, d_name

        public override bool TryStat(IUnixCalls calls, SafeFileHandle handle, out uint uid, out int mode)
        {
            // struct stat, 64-bit inode layout (sys/stat.h __DARWIN_STRUCT_STAT64): st_dev i32 @0, st_mode u16 @4,
            // st_nlink u16 @6, st_ino u64 @8, st_uid u32 @16; 144 bytes in all.
            byte* buffer = stackalloc byte[StatBufferSize];
            int result = calls.Stat(handle, buffer);
            uid = result == 0 ? *(uint*)(buffer + 16) : 0;
            mode = result == 0 ? *(ushort*)(buffer + 4) : 0;
            return result == 0;
        }

        public override int Stat(SafeFileHandle file, byte* buffer) => inode64Suffix ? FStatInode64(file, buffer) : FStat(file, buffer);

        public override nint FdOpenDir(int fd) => inode64Suffix ? FdOpenDirInode64(fd) : MacFdOpenDir(fd);

        public override byte* ReadDir(nint stream) => inode64Suffix ? ReadDirInode64(stream) : MacReadDir(stream);

        protected override string[] EntryPoints =>
            inode64Suffix ? ["fstat$INODE64", "fdopendir$INODE64", "readdir$INODE64"] : ["fstat", "fdopendir", "readdir"];

        [LibraryImport("libc", EntryPoint = "fstat", SetLastError = true)]
        private static partial int FStat(SafeFileHandle fd, byte* buffer);

        [LibraryImport("libc", EntryPoint = "fstat$INODE64", SetLastError = true)]
        private static partial int FStatInode64(SafeFileHandle fd, byte* buffer);

        [LibraryImport("libc", EntryPoint = "fdopendir", SetLastError = true)]
        private static partial nint MacFdOpenDir(int fd);

        [LibraryImport("libc", EntryPoint = "fdopendir$INODE64", SetLastError = true)]
        private static partial nint FdOpenDirInode64(int fd);

        [LibraryImport("libc", EntryPoint = "readdir", SetLastError = true)]
        private static partial byte* MacReadDir(nint stream);

        [LibraryImport("libc", EntryPoint = "readdir$INODE64", SetLastError = true)]
        private static partial byte* ReadDirInode64(nint stream);
    }
}
