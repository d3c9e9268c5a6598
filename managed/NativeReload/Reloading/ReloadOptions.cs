namespace NativeReload.Reloading;

/// <summary>
/// The settings every reloadable library shares, in-process (<see cref="ReloadableLibraryOptions"/>) or in a worker
/// process (<see cref="Isolation.IsolatedLibraryOptions"/>): how changes are noticed and when a changed file counts
/// as complete. The defaults suit a developer's edit-build-see loop.
/// </summary>
public abstract class ReloadOptions
{
    /// <summary>Watch the file and reload on change. When false, only an explicit <c>Reload()</c> reloads.</summary>
    public bool WatchForChanges { get; set; } = true;

    /// <summary>
    /// Wait after a file was renamed onto the path before reading it. A rename is atomic, so the file is complete;
    /// this only merges a burst of events. Default 5 ms.
    /// </summary>
    public TimeSpan RenameDebounce { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// Quiet time required after the last write, create or delete before the file is read: a file written in place
    /// has no "finished" event. Default 50 ms. Whatever this is, a file whose headers describe more bytes than are on
    /// disk is never loaded.
    /// </summary>
    public TimeSpan QuietPeriod { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// How long a file may stay missing, empty, incomplete or unreadable with no further change before that is
    /// reported as a failure (builds delete and re-create files; slow writers pause). Default 2 s.
    /// </summary>
    public TimeSpan SettleTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Interval of the polling fallback that catches what the file system watcher misses. Default 250 ms.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// The host application's own API version that a library must report in <c>nr_plugin_info.api_version</c>
    /// (see <c>native/include/nativereload.h</c>); a library reporting another one is refused. Null (default): not checked.
    /// Libraries without <c>nr_get_plugin_info</c> are never checked.
    /// </summary>
    public uint? ExpectedApiVersion { get; set; }

    /// <summary>
    /// Where the per-process shadow directory (the loaded copies; for an isolated library also the state block and
    /// the worker's socket) is created. Default: <c>NATIVERELOAD_SHADOW_ROOT</c> or the temporary directory.
    /// </summary>
    public string? ShadowRoot { get; set; }

    /// <summary>
    /// Test seam: called at each <see cref="ReloadStep"/> of a reload, so the fault-injection tests can throw or stall
    /// there. Null (always, outside the tests).
    /// </summary>
    internal Action<ReloadStep>? FaultInjection { get; set; }
}
