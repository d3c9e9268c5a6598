using Microsoft.Win32.SafeHandles;

namespace NativeReload.ShadowCopying;

/// <summary>
/// The libc calls behind <see cref="UnixDescriptors"/>, one member per call and with the call's own contract: a
/// negative (or null) result means failure, and the errno is then <see cref="System.Runtime.InteropServices.Marshal.GetLastPInvokeError"/>.
/// </summary>
/// <remarks>
/// The real implementation is the platform's libc (<see cref="UnixDescriptors"/>' platform class). The only other one
/// is a test decorator installed with <see cref="UnixDescriptors.Substitute"/>: on this machine these calls never fail
/// (the tests run as root), so without it the sweep's error handling could not be run at all.
/// Flags are the platform's values, exactly as passed to libc.
/// </remarks>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal unsafe interface IUnixCalls
{
    /// <summary><c>open(path, flags)</c>, never with <c>O_CREAT</c>: a descriptor, or -1.</summary>
    int Open(string path, int flags);

    /// <summary><c>openat(directory, name, flags)</c>, never with <c>O_CREAT</c>: a descriptor, or -1.</summary>
    int OpenAt(SafeFileHandle directory, string name, int flags);

    /// <summary><c>unlinkat(directory, name, flags)</c>: 0, or -1.</summary>
    int UnlinkAt(SafeFileHandle directory, string name, int flags);

    /// <summary><c>flock(file, operation)</c>: 0, or -1.</summary>
    int Flock(SafeFileHandle file, int operation);

    /// <summary><c>dup(file)</c>: a new descriptor the caller owns, or -1.</summary>
    int Dup(SafeFileHandle file);

    /// <summary><c>close(fd)</c>: 0, or -1.</summary>
    int Close(int fd);

    /// <summary><c>fdopendir(fd)</c>: a stream that owns <paramref name="fd"/> from then on, or 0 (the caller still owns it).</summary>
    nint FdOpenDir(int fd);

    /// <summary><c>readdir(stream)</c>: the next <c>struct dirent</c>, or null at the end (errno 0) or on error (errno set).</summary>
    byte* ReadDir(nint stream);

    /// <summary><c>closedir(stream)</c>, which closes its descriptor too: 0, or -1.</summary>
    int CloseDir(nint stream);

    /// <summary>
    /// The platform's stat of an open descriptor into <paramref name="buffer"/> (at least <see cref="UnixDescriptors.StatBufferSize"/>
    /// bytes): <c>statx(fd, "", AT_EMPTY_PATH, STATX_TYPE|STATX_MODE|STATX_UID)</c> on Linux, <c>fstat</c> on macOS. 0, or -1.
    /// </summary>
    int Stat(SafeFileHandle file, byte* buffer);
}
