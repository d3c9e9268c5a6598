namespace NativeReload.Reloading;

/// <summary>Why a library file could not become a generation. Every value maps to one line a user can act on.</summary>
public enum ReloadFailureReason
{
    /// <summary>The path does not exist, or is a symbolic link whose target does not exist.</summary>
    FileMissing,

    /// <summary>The path exists but is not a regular file (for example a directory).</summary>
    NotAFile,

    /// <summary>The file could not be read (permission denied or locked).</summary>
    AccessDenied,

    /// <summary>The file has zero bytes.</summary>
    Empty,

    /// <summary>The file's own headers describe more bytes than are on disk: it is truncated or still being written.</summary>
    Incomplete,

    /// <summary>The file is not a shared library for this operating system.</summary>
    NotALibrary,

    /// <summary>The file is a shared library built for another CPU architecture or word size.</summary>
    WrongArchitecture,

    /// <summary>The operating system's loader refused the file (its message is in the failure text).</summary>
    LoaderRejected,

    /// <summary>One or more exports the host requires are absent.</summary>
    MissingExport,

    /// <summary>The library reported an ABI version the host does not accept.</summary>
    AbiMismatch,

    /// <summary>The library's initialisation hook returned an error.</summary>
    InitFailed,

    /// <summary>An unexpected I/O error while reading or copying the file.</summary>
    IoError,

    /// <summary>
    /// The host itself failed while loading or swapping (for example the state block could not be allocated). The
    /// current generation keeps serving; the message says which step failed.
    /// </summary>
    HostError,

    /// <summary>
    /// The file is the C runtime or the dynamic loader (libc, libpthread, libdl, ld-linux, ld-musl, libSystem, ucrtbase,
    /// msvcrt, kernel32, ntdll): the process already runs on it, and a second copy would corrupt it, so it is never loaded.
    /// </summary>
    CoreRuntime,
}
