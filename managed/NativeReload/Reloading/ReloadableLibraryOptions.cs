namespace NativeReload.Reloading;

/// <summary>Settings of a <see cref="ReloadableLibrary{TExports}"/>. The defaults suit a developer's edit-build-see loop.</summary>
public sealed class ReloadableLibraryOptions
{
    /// <summary>When a new generation replaces the current one. Default: <see cref="ApplyMode.Immediately"/>.</summary>
    public ApplyMode ApplyMode { get; set; } = ApplyMode.Immediately;

    /// <summary>Watch the file and reload on change. When false, only <see cref="ReloadableLibrary{TExports}.Reload"/> reloads.</summary>
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

    /// <summary>How long retiring a generation waits for calls still inside it before it gives up and keeps it loaded. Default 10 s.</summary>
    public TimeSpan RetireTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The host application's own API version that a library must report in <c>nr_plugin_info.api_version</c>
    /// (see <c>native/include/nativereload.h</c>); a library reporting another one is refused. Null (default): not checked.
    /// Libraries without <c>nr_get_plugin_info</c> are never checked.
    /// </summary>
    public uint? ExpectedApiVersion { get; set; }

    /// <summary>Where the per-process shadow directory is created. Default: <c>NATIVERELOAD_SHADOW_ROOT</c> or the temporary directory.</summary>
    public string? ShadowRoot { get; set; }
}
