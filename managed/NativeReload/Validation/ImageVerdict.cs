namespace NativeReload.Validation;

/// <summary>The outcome of inspecting a candidate library image with <see cref="LibraryImageInspector"/>.</summary>
public enum ImageVerdict
{
    /// <summary>The image is a complete shared library for the expected format and architecture.</summary>
    Ok = 0,

    /// <summary>The image has no bytes at all (typically a file that was just created by a linker).</summary>
    Empty,

    /// <summary>
    /// The image is shorter than its own headers declare: it is still being written, or it was truncated.
    /// Loading it could crash the process (for example with SIGBUS on Linux).
    /// </summary>
    Incomplete,

    /// <summary>
    /// The image is not a shared library that this OS can load: an unknown or malformed file, an executable,
    /// an object file, or a library in another OS's format.
    /// </summary>
    NotALibrary,

    /// <summary>The image is a shared library, but for another CPU architecture, word size or byte order.</summary>
    WrongArchitecture,
}
