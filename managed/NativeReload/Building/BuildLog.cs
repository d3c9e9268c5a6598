using Microsoft.Extensions.Logging;

namespace NativeReload.Building;

/// <summary>What <c>watch</c> decided about each change, for <c>--log-level Debug</c>: source-generated, no cost when off.</summary>
internal static partial class BuildLog
{
    [LoggerMessage(40, LogLevel.Debug, "Ignored change to {Path}: {Rule}")]
    public static partial void Ignored(ILogger logger, string path, string rule);

    [LoggerMessage(41, LogLevel.Debug, "Change to {Path}: building")]
    public static partial void Counted(ILogger logger, string path);

    [LoggerMessage(42, LogLevel.Debug, "Change to {Path} while the build ran, not written by it: building again")]
    public static partial void SavedDuringBuild(ILogger logger, string path);

    [LoggerMessage(43, LogLevel.Debug, "Ignored at start: {Path}: {Rule}")]
    public static partial void IgnoredAtStart(ILogger logger, string path, string rule);

    [LoggerMessage(44, LogLevel.Debug, "{Path} changed: ignore rules re-read")]
    public static partial void IgnoreFileChanged(ILogger logger, string path);

    [LoggerMessage(45, LogLevel.Warning, "{Path} is rewritten by every build: its changes while a build runs are taken for the build's own from now on (save it while no build runs to rebuild, or --ignore it)")]
    public static partial void RewrittenByEveryBuild(ILogger logger, string path);

    [LoggerMessage(46, LogLevel.Debug, "The source watcher lost events ({Reason}): building to be safe")]
    public static partial void WatcherError(ILogger logger, string reason);
}
