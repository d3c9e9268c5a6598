namespace NativeReload.Reloading;

/// <summary>
/// A library file could not be loaded as a generation. <see cref="Exception.Message"/> has the form
/// <c>&lt;file&gt;: &lt;reason&gt;</c>, so it can be shown to a user as is.
/// </summary>
public sealed class LibraryLoadException : Exception
{
    /// <summary>Creates the exception for <paramref name="filePath"/>.</summary>
    /// <param name="filePath">The library file the host was asked to load (not its shadow copy).</param>
    /// <param name="reason">The category of the failure.</param>
    /// <param name="detail">One line that says what is wrong, without the file name (line breaks are folded into spaces).</param>
    /// <param name="innerException">The loader's or the file system's own exception, if any.</param>
    public LibraryLoadException(string filePath, ReloadFailureReason reason, string detail, Exception? innerException = null)
        : base($"{filePath}: {OneLine(detail)}", innerException)
    {
        FilePath = filePath;
        Reason = reason;
        Detail = OneLine(detail);
    }

    /// <summary>The library file the host was asked to load.</summary>
    public string FilePath { get; }

    /// <summary>The category of the failure.</summary>
    public ReloadFailureReason Reason { get; }

    /// <summary>The reason as one line, without the file name.</summary>
    public string Detail { get; }

    private static string OneLine(string text) =>
        string.Join(' ', (text ?? string.Empty).Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>True when the failure may disappear on its own because the file is still being written or replaced.</summary>
    internal bool IsTransient => Reason is ReloadFailureReason.FileMissing or ReloadFailureReason.Empty
        or ReloadFailureReason.Incomplete or ReloadFailureReason.AccessDenied;
}
