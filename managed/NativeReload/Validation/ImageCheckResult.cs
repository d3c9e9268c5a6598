namespace NativeReload.Validation;

/// <summary>The result of <see cref="LibraryImageInspector.Check"/>: a verdict, the detected format and a one-line reason.</summary>
/// <param name="Verdict">Whether the image can be loaded, and if not, why not.</param>
/// <param name="Format">The format detected from the image (<see cref="BinaryFormat.Unknown"/> if none was recognised).</param>
/// <param name="Reason">
/// A one-line, human-readable explanation that says what was found and what was expected. It never contains the
/// file name: callers prefix it with the name of the file they read.
/// </param>
public sealed record ImageCheckResult(ImageVerdict Verdict, BinaryFormat Format, string Reason)
{
    private static readonly ImageCheckResult OkElf = new(ImageVerdict.Ok, BinaryFormat.Elf, "a complete ELF shared library for the expected architecture");
    private static readonly ImageCheckResult OkPe = new(ImageVerdict.Ok, BinaryFormat.Pe, "a complete PE DLL for the expected architecture");
    private static readonly ImageCheckResult OkMachO = new(ImageVerdict.Ok, BinaryFormat.MachO, "a complete Mach-O library for the expected architecture");
    private static readonly ImageCheckResult OkUniversal = new(ImageVerdict.Ok, BinaryFormat.MachOUniversal, "a universal binary with a complete Mach-O library slice for the expected architecture");
    private static readonly ImageCheckResult EmptyResult = new(ImageVerdict.Empty, BinaryFormat.Unknown, "file is empty");

    /// <summary>Gets a value indicating whether the image passed every check and may be handed to the OS loader.</summary>
    public bool IsOk => Verdict == ImageVerdict.Ok;

    /// <summary>Returns a cached success result for <paramref name="format"/> (no allocation on the success path).</summary>
    internal static ImageCheckResult Ok(BinaryFormat format) => format switch
    {
        BinaryFormat.Elf => OkElf,
        BinaryFormat.Pe => OkPe,
        BinaryFormat.MachO => OkMachO,
        BinaryFormat.MachOUniversal => OkUniversal,
        _ => new(ImageVerdict.Ok, format, "ok"),
    };

    /// <summary>The cached result for a zero-length image.</summary>
    internal static ImageCheckResult Empty => EmptyResult;

    /// <summary>An <see cref="ImageVerdict.Incomplete"/> result; <paramref name="detail"/> says which declared range does not fit.</summary>
    internal static ImageCheckResult Incomplete(BinaryFormat format, string detail) =>
        new(ImageVerdict.Incomplete, format, "incomplete: " + detail + " (still being written or truncated)");

    /// <summary>A <see cref="ImageVerdict.NotALibrary"/> result with the standard "not a shared library" prefix.</summary>
    internal static ImageCheckResult NotALibrary(BinaryFormat format, string detail) =>
        new(ImageVerdict.NotALibrary, format, "not a shared library: " + detail);

    /// <summary>A <see cref="ImageVerdict.WrongArchitecture"/> result with the standard "wrong architecture" prefix.</summary>
    internal static ImageCheckResult WrongArchitecture(BinaryFormat format, string detail) =>
        new(ImageVerdict.WrongArchitecture, format, "wrong architecture: " + detail);
}
