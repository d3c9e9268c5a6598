namespace NativeReload.Isolation;

/// <summary>Settings of an <see cref="IsolatedLibrary"/>; the shared ones are in <see cref="Reloading.ReloadOptions"/>.</summary>
public sealed class IsolatedLibraryOptions : Reloading.ReloadOptions
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

    /// <summary>
    /// Receives each line the worker writes on stdout or stderr (the library's own printf, the runtime's messages);
    /// null: written to this process's stderr prefixed with <c>worker| </c>.
    /// </summary>
    public Action<string>? WorkerOutput { get; set; }
}
