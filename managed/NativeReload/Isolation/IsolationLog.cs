using Microsoft.Extensions.Logging;

namespace NativeReload.Isolation;

/// <summary>The isolated mode's diagnostics (source-generated).</summary>
internal static partial class IsolationLog
{
    [LoggerMessage(101, LogLevel.Information, "Worker {Pid} started for {File}")]
    public static partial void WorkerStarted(ILogger logger, string file, int pid);

    [LoggerMessage(102, LogLevel.Warning, "The worker of {File} died running generation {Generation} ({Reason})")]
    public static partial void Crashed(ILogger logger, string file, long generation, string reason);

    [LoggerMessage(103, LogLevel.Information, "Restarted {File} on generation {Generation}")]
    public static partial void Restarted(ILogger logger, string file, long generation);

    [LoggerMessage(104, LogLevel.Warning, "No generation of {File} is left that did not crash; waiting for the file to change")]
    public static partial void Unavailable(ILogger logger, string file);

    [LoggerMessage(105, LogLevel.Error, "Cannot start a worker for {File}: {Reason}")]
    public static partial void StartFailed(ILogger logger, string file, string reason);

    [LoggerMessage(106, LogLevel.Error, "Unexpected error while reloading {File} in isolation")]
    public static partial void ReloadError(ILogger logger, Exception exception, string file);

    [LoggerMessage(107, LogLevel.Error, "An event handler of {File} threw")]
    public static partial void HandlerError(ILogger logger, Exception exception, string file);

    [LoggerMessage(108, LogLevel.Warning, "The state block {Block} of {File} had its header or length changed by the worker; the host's values were put back")]
    public static partial void StateHeaderRestored(ILogger logger, string file, string block);
}
