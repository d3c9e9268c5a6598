using Microsoft.Extensions.Logging;

namespace NativeReload;

/// <summary>Every diagnostic the library writes, in one place: source-generated, no cost when the level is off.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Loaded {File} (generation 1, {Milliseconds:F1} ms)")]
    public static partial void FirstLoad(ILogger logger, string file, double milliseconds);

    [LoggerMessage(2, LogLevel.Information, "Reloaded {File} (generation {Generation}, {Milliseconds:F1} ms)")]
    public static partial void Reloaded(ILogger logger, string file, long generation, double milliseconds);

    [LoggerMessage(3, LogLevel.Warning, "Reload of {File} failed: {Reason}; still running generation {Generation}")]
    public static partial void ReloadFailed(ILogger logger, string file, string reason, long generation);

    [LoggerMessage(4, LogLevel.Debug, "{File} not settled yet ({Reason}); waiting")]
    public static partial void NotSettled(ILogger logger, string file, string reason);

    [LoggerMessage(5, LogLevel.Debug, "{File} changed on disk but holds the content of generation {Generation}; not reloading")]
    public static partial void ContentUnchanged(ILogger logger, string file, long generation);

    [LoggerMessage(6, LogLevel.Debug, "Generation {Generation} of {File} is ready; it is applied at the next safe point")]
    public static partial void Pending(ILogger logger, string file, long generation);

    [LoggerMessage(7, LogLevel.Warning, "A call is still inside generation {Generation} of {File} after {Seconds} s; it stays loaded until it returns")]
    public static partial void RetireTimedOut(ILogger logger, string file, long generation, double seconds);

    [LoggerMessage(8, LogLevel.Information, "Generation {Generation} of {File} stayed mapped after it was freed (thread-local destructors, unique symbols or NODELETE); its memory is kept until the process exits")]
    public static partial void StayedMapped(ILogger logger, string file, long generation);

    [LoggerMessage(9, LogLevel.Debug, "Generation {Generation} of {File} freed and unmapped")]
    public static partial void Freed(ILogger logger, string file, long generation);

    [LoggerMessage(10, LogLevel.Error, "Unexpected error while reloading {File}; the current generation keeps serving")]
    public static partial void WorkerError(ILogger logger, Exception exception, string file);

    [LoggerMessage(11, LogLevel.Error, "An event handler of {File} threw; reloading goes on")]
    public static partial void HandlerError(ILogger logger, Exception exception, string file);

    [LoggerMessage(12, LogLevel.Warning, "nr_unload of generation {Generation} of {File} returned {Result}")]
    public static partial void UnloadHookFailed(ILogger logger, string file, long generation, int result);

    [LoggerMessage(13, LogLevel.Warning, "Generation {Generation} of {File} is kept loaded after dispose, with its state block: {Why}. It is freed when the call returns")]
    public static partial void KeptOnDispose(ILogger logger, string file, long generation, string why);

    [LoggerMessage(14, LogLevel.Information, "Generation {Generation} of {File}, kept while a call was inside it, is drained and freed")]
    public static partial void StuckDrained(ILogger logger, string file, long generation);

    [LoggerMessage(15, LogLevel.Warning, "nr_load(NR_ROLLBACK) of generation {Generation} of {File} returned {Result}; it serves again, but its state may not be as it was")]
    public static partial void RollbackHookFailed(ILogger logger, string file, long generation, int result);

    [LoggerMessage(20, LogLevel.Debug, "Shadow directory {Path} created")]
    public static partial void ShadowDirectoryCreated(ILogger logger, string path);

    [LoggerMessage(21, LogLevel.Debug, "Shadow copy {Path} not deleted yet: {Reason}")]
    public static partial void CopyNotDeleted(ILogger logger, string path, string reason);

    [LoggerMessage(22, LogLevel.Debug, "Shadow directory {Path} left for the next start: {Reason}")]
    public static partial void DirectoryLeft(ILogger logger, string path, string reason);

    [LoggerMessage(23, LogLevel.Information, "Removed shadow copies left by a process that exited: {Path}")]
    public static partial void AbandonedRemoved(ILogger logger, string path);

    [LoggerMessage(24, LogLevel.Debug, "Could not remove abandoned shadow directory {Path}: {Reason}")]
    public static partial void AbandonedNotRemoved(ILogger logger, string path, string reason);

    [LoggerMessage(25, LogLevel.Debug, "Left {Path} alone (not an abandoned shadow directory of ours): {Reason}")]
    public static partial void ShadowDirectorySkipped(ILogger logger, string path, string reason);

    [LoggerMessage(26, LogLevel.Warning, "Not removing shadow directories left under {Root} by exited processes: {Reason}")]
    public static partial void SweepUnavailable(ILogger logger, string root, string reason);

    [LoggerMessage(30, LogLevel.Debug, "File watcher missed a change to {Path}; re-creating it")]
    public static partial void WatcherDeaf(ILogger logger, string path);

    [LoggerMessage(31, LogLevel.Debug, "File watcher error for {Path}; polling covers it")]
    public static partial void WatcherError(ILogger logger, Exception? exception, string path);

    [LoggerMessage(33, LogLevel.Debug, "The directory of {Path} is gone; polling until it exists again")]
    public static partial void WatchedDirectoryGone(ILogger logger, string path);

    [LoggerMessage(32, LogLevel.Debug, "Cannot watch {Directory} ({Reason}); polling only")]
    public static partial void CannotWatch(ILogger logger, string directory, string reason);

    [LoggerMessage(120, LogLevel.Warning, "{File}: generation {Generation} {Warning}")]
    public static partial void GenerationWarning(ILogger logger, string file, long generation, string warning);

    [LoggerMessage(121, LogLevel.Warning, "{File} is already loaded by this process as {LoadedPath} ({How}); loading a second copy as generation {Generation}")]
    public static partial void AlreadyLoaded(ILogger logger, string file, string loadedPath, string how, long generation);
}
