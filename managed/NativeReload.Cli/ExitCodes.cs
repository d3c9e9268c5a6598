namespace NativeReload.Cli;

/// <summary>The CLI's exit codes: part of its public contract.</summary>
internal static class ExitCodes
{
    /// <summary>Ran to the end, or stopped by Ctrl+C / SIGTERM.</summary>
    public const int Success = 0;

    /// <summary>The library could not be loaded the first time (missing file, not a library, missing export).</summary>
    public const int LoadFailed = 1;

    /// <summary>The command line was wrong.</summary>
    public const int Usage = 2;
}
