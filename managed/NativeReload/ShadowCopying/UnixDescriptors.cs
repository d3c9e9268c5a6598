using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace NativeReload.ShadowCopying;

/// <summary>
/// The descriptor-relative libc calls the stale-copy sweep needs (<c>openat</c>, <c>unlinkat</c>, <c>fstat</c>,
/// <c>readdir</c>, <c>flock</c>), with the constants and struct layouts of each supported platform.
/// </summary>
/// <remarks>
/// <para>
/// Every call works on an open descriptor, never on a path: a name is looked up once, relative to a directory the
/// sweep already opened and checked, with <c>O_NOFOLLOW</c>, so swapping an entry for a symbolic link at any moment
/// can at worst make an <c>openat</c> fail; the link itself is then unlinked, which never touches its target.
/// </para>
/// <para>
/// Platforms, from the system headers: Linux x86_64/riscv64/loongarch64 use the asm-generic <c>O_</c> values,
/// Linux arm/arm64 their own (<c>O_DIRECTORY</c> 040000, <c>O_NOFOLLOW</c> 0100000); ownership and mode come from
/// <c>statx</c>, whose layout is the same on every Linux architecture (glibc 2.28+; musl 1.2.5+). The 64-bit
/// <c>struct dirent</c> is the same on every 64-bit Linux. macOS: <c>struct stat</c> and <c>struct dirent</c> in their
/// 64-bit-inode layout (the <c>$INODE64</c> symbols on x86_64, the plain ones on arm64). macOS is written from the
/// SDK headers and not run by the tests here. Anything else (32-bit processes, other architectures or systems, a libc
/// without these symbols) is <see cref="IsSupported"/> = false, and the sweep then removes nothing rather than guess.
/// As a guard against a wrong layout, every mode read here is compared with .NET's own <c>fstat</c> of the same
/// descriptor (<see cref="File.GetUnixFileMode(SafeFileHandle)"/>) and a mismatch refuses the directory.
/// </para>
/// </remarks>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal static unsafe partial class UnixDescriptors
{
    public const int ENOENT = 2;
    public const int EPERM = 1;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;

    private const int ORdOnly = 0;
    private const int LOCK_EX = 2;
    private const int LOCK_NB = 4;
    private const int S_IFMT = 0xF000;
    private const int S_IFDIR = 0x4000;
    private const int S_IFREG = 0x8000;

    /// <summary>The size of the buffer <see cref="IUnixCalls.Stat"/> fills (<c>struct statx</c> is 256 bytes, macOS's <c>struct stat</c> 144).</summary>
    public const int StatBufferSize = 256;

    private static readonly Platform? Current = Platform.Detect();

    private static IUnixCalls? s_substitute;

    private static Platform P => Current ?? throw new PlatformNotSupportedException(UnsupportedReason);

    /// <summary>The libc calls: the platform's own, unless a test substituted them.</summary>
    private static IUnixCalls Calls => Volatile.Read(ref s_substitute) ?? P;

    /// <summary>False where the constants or layouts are not known here; callers then do nothing.</summary>
    public static bool IsSupported => Current is not null;

    /// <summary>Why <see cref="IsSupported"/> is false, for the log.</summary>
    public static string UnsupportedReason =>
        $"descriptor-relative deletion is not implemented for {RuntimeInformation.RuntimeIdentifier} ({IntPtr.Size * 8}-bit)";

    /// <summary><c>ELOOP</c>: what <c>O_NOFOLLOW</c> returns for a symbolic link.</summary>
    public static int ELOOP => P.ELoop;

    /// <summary><c>EWOULDBLOCK</c>: the lock is held by someone else.</summary>
    public static int EWOULDBLOCK => P.EWouldBlock;

    /// <summary>Opens <paramref name="path"/> (following links: the caller chose it) as a directory.</summary>
    public static SafeFileHandle? OpenDirectory(string path, out int errno) =>
        Wrap(Calls.Open(path, ORdOnly | P.ODirectory | P.OCloexec | P.ONonBlock), out errno);

    /// <summary><c>openat(dir, name, O_DIRECTORY|O_NOFOLLOW)</c>: null (with errno) for anything but a real directory.</summary>
    public static SafeFileHandle? OpenSubdirectory(SafeFileHandle directory, string name, out int errno) =>
        Wrap(Calls.OpenAt(directory, name, ORdOnly | P.ODirectory | P.ONoFollow | P.OCloexec | P.ONonBlock), out errno);

    /// <summary><c>openat(dir, name, O_RDONLY|O_NOFOLLOW)</c> of a file, never blocking (a planted FIFO cannot hang us).</summary>
    public static SafeFileHandle? OpenFile(SafeFileHandle directory, string name, out int errno) =>
        Wrap(Calls.OpenAt(directory, name, ORdOnly | P.ONoFollow | P.OCloexec | P.ONonBlock), out errno);

    /// <summary><c>unlinkat(dir, name, 0)</c> (a file or a link, never what a link points to) or with <c>AT_REMOVEDIR</c> (an empty directory).</summary>
    /// <returns>0, or the errno.</returns>
    public static int Unlink(SafeFileHandle directory, string name, bool removeDirectory) =>
        Calls.UnlinkAt(directory, name, removeDirectory ? P.AtRemoveDir : 0) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>Takes an exclusive <c>flock</c> without waiting.</summary>
    /// <returns>0, or the errno (<see cref="EWOULDBLOCK"/>: someone holds it).</returns>
    public static int TryLockExclusive(SafeFileHandle file) =>
        Calls.Flock(file, LOCK_EX | LOCK_NB) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>The effective user id of this process.</summary>
    public static uint EffectiveUserId() => GetEuid();

    /// <summary>Owner, type and permission bits of an open descriptor, checked against .NET's own view of the mode.</summary>
    /// <returns>False when they cannot be read or do not agree with .NET (a layout this code got wrong).</returns>
    public static bool TryGetOwnerAndMode(SafeFileHandle handle, out uint uid, out int mode)
    {
        if (!P.TryStat(Calls, handle, out uid, out mode))
        {
            return false;
        }

        return (mode & 0xFFF) == (int)File.GetUnixFileMode(handle);
    }

    /// <summary>True for a directory.</summary>
    public static bool IsDirectory(int mode) => (mode & S_IFMT) == S_IFDIR;

    /// <summary>True for a regular file.</summary>
    public static bool IsRegularFile(int mode) => (mode & S_IFMT) == S_IFREG;

    /// <summary>Every name in an open directory except <c>.</c> and <c>..</c>, read through a duplicate of the descriptor.</summary>
    /// <exception cref="IOException">The directory could not be read.</exception>
    public static List<string> ReadNames(SafeFileHandle directory)
    {
        IUnixCalls calls = Calls;
        int duplicate = calls.Dup(directory);
        if (duplicate < 0)
        {
            throw new IOException($"dup: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        nint stream = calls.FdOpenDir(duplicate);
        if (stream == 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            calls.Close(duplicate);
            throw new IOException($"fdopendir: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        try
        {
            var names = new List<string>();
            while (true)
            {
                byte* entry = calls.ReadDir(stream);
                if (entry is null)
                {
                    int errno = Marshal.GetLastPInvokeError(); // the generated stub clears errno before the call
                    return errno == 0 ? names : throw new IOException($"readdir: {Marshal.GetPInvokeErrorMessage(errno)}");
                }

                string name = Marshal.PtrToStringUTF8((nint)(entry + P.DirentNameOffset))!;
                if (name is not "." and not "..")
                {
                    names.Add(name);
                }
            }
        }
        finally
        {
            calls.CloseDir(stream); // closes the duplicate too
        }
    }

    private static SafeFileHandle? Wrap(int fd, out int errno)
    {
        errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>
    /// Routes every libc call of this class through <paramref name="decorate"/>'s result until the returned object is
    /// disposed. For tests only: they make one call fail with a chosen errno, which nothing else can do here.
    /// </summary>
    /// <param name="decorate">Given the real calls, returns the ones to use.</param>
    /// <returns>Restores the real calls when disposed.</returns>
    /// <exception cref="InvalidOperationException">Another substitute is installed.</exception>
    internal static IDisposable Substitute(Func<IUnixCalls, IUnixCalls> decorate)
    {
        IUnixCalls substitute = decorate(P);
        if (Interlocked.CompareExchange(ref s_substitute, substitute, null) is not null)
        {
            throw new InvalidOperationException("the libc calls are already substituted; dispose the first substitute before installing another");
        }

        return new Restore(substitute);
    }

    /// <summary>Puts the real calls back, once.</summary>
    private sealed class Restore(IUnixCalls substitute) : IDisposable
    {
        public void Dispose() => Interlocked.CompareExchange(ref s_substitute, null, substitute);
    }

    /// <summary>The values and the calls that differ between the supported systems and architectures.</summary>
    private abstract class Platform : IUnixCalls
    {

        public abstract int ODirectory { get; }

        public abstract int ONoFollow { get; }

        public abstract int OCloexec { get; }

        public abstract int ONonBlock { get; }

        public abstract int AtRemoveDir { get; }

        public abstract int ELoop { get; }

        public abstract int EWouldBlock { get; }

        public abstract int DirentNameOffset { get; }

        public static Platform? Detect()
        {
            if (IntPtr.Size != 8)
            {
                return null;
            }

            Platform? platform = null;
            if (OperatingSystem.IsLinux())
            {
                platform = RuntimeInformation.ProcessArchitecture switch
                {
                    Architecture.X64 or Architecture.RiscV64 or Architecture.LoongArch64 => new Linux(oDirectory: 0x10000, oNoFollow: 0x20000),
                    Architecture.Arm64 => new Linux(oDirectory: 0x4000, oNoFollow: 0x8000),
                    _ => null,
                };
            }
            else if (OperatingSystem.IsMacOS())
            {
                platform = RuntimeInformation.ProcessArchitecture switch
                {
                    Architecture.Arm64 => new MacOS(inode64Suffix: false),
                    Architecture.X64 => new MacOS(inode64Suffix: true),
                    _ => null,
                };
            }

            return platform is not null && platform.EntryPointsExist() ? platform : null;
        }

        /// <summary>Owner and mode from <paramref name="calls"/>' <see cref="IUnixCalls.Stat"/>, in this platform's layout.</summary>
        public abstract bool TryStat(IUnixCalls calls, SafeFileHandle handle, out uint uid, out int mode);

        public int Open(string path, int flags) => UnixDescriptors.Open(path, flags);

        public int OpenAt(SafeFileHandle directory, string name, int flags) => UnixDescriptors.OpenAt(directory, name, flags);

        public int UnlinkAt(SafeFileHandle directory, string name, int flags) => UnixDescriptors.UnlinkAt(directory, name, flags);

        public int Flock(SafeFileHandle file, int operation) => UnixDescriptors.Flock(file, operation);

        public int Dup(SafeFileHandle file) => UnixDescriptors.Dup(file);

        public int Close(int fd) => UnixDescriptors.Close(fd);

        public int CloseDir(nint stream) => UnixDescriptors.CloseDir(stream);

        public abstract nint FdOpenDir(int fd);

        public abstract byte* ReadDir(nint stream);

        public abstract int Stat(SafeFileHandle file, byte* buffer);

        /// <summary>The platform-specific entry points; all must exist, so a libc without one disables the sweep instead of failing mid-way.</summary>
        protected abstract string[] EntryPoints { get; }

        private bool EntryPointsExist()
        {
            string[] common = ["open", "openat", "unlinkat", "flock", "geteuid", "dup", "close", "closedir"];
            return NativeLibrary.TryLoad("libc", typeof(UnixDescriptors).Assembly, null, out nint libc)
                && common.Concat(EntryPoints).All(name => NativeLibrary.TryGetExport(libc, name, out _));
        }
    }

    // String marshalling passes a NUL-terminated UTF-8 copy, so a name can never run past its end.
    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags); // never O_CREAT, so the variadic mode is never read

    [LibraryImport("libc", EntryPoint = "openat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int OpenAt(SafeFileHandle dirfd, string path, int flags);

    [LibraryImport("libc", EntryPoint = "unlinkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int UnlinkAt(SafeFileHandle dirfd, string path, int flags);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(SafeFileHandle fd, int operation);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
    private static partial int Dup(SafeFileHandle fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "closedir", SetLastError = true)]
    private static partial int CloseDir(nint stream);
}
