namespace NativeReload.Isolation;

/// <summary>Settings of an <see cref="IsolatedLibrary"/>.</summary>
public sealed class IsolatedLibraryOptions
{
    /// <summary>How to start the worker process; null: <see cref="IsolatedWorkerCommand.Default"/>.</summary>
    public IsolatedWorkerCommand? Worker { get; set; }

    /// <summary>
    /// Exports every generation must have (checked in the worker before the generation can take over, like
    /// <see cref="Loading.ExportResolver.Require"/>). Calls to other exports are resolved on first use.
    /// </summary>
    public IReadOnlyList<string> RequiredExports { get; set; } = [];

    /// <summary>
    /// How long a call or a load may take before the worker is considered hung: it is killed and reported like a
    /// crash (<c>no answer within 2 s</c>).
    /// </summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a new worker may take to start and connect.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Reload when the file changes (a watcher plus polling, like <see cref="Reloading.ReloadableLibrary{TExports}"/>).</summary>
    public bool WatchForChanges { get; set; } = true;

    /// <summary>Quiet time after the last write before a changed file is read.</summary>
    public TimeSpan QuietPeriod { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Quiet time after a rename (atomic) before the file is read.</summary>
    public TimeSpan RenameDebounce { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>How long a missing, empty or incomplete file is waited for before the failure is reported.</summary>
    public TimeSpan SettleTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Polling interval of the change detection's fallback.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>If set, the library's <c>api_version</c> must equal it (see <c>nativereload.h</c>).</summary>
    public uint? ExpectedApiVersion { get; set; }

    /// <summary>Where the shadow directory (copies, state block, worker socket) is created; null: the default root.</summary>
    public string? ShadowRoot { get; set; }

    /// <summary>
    /// Receives each line the worker writes on stdout or stderr (the library's own printf, the runtime's messages);
    /// null: written to this process's stderr prefixed with <c>worker| </c>.
    /// </summary>
    public Action<string>? WorkerOutput { get; set; }
}
