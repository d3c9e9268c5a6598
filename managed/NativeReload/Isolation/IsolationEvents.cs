namespace NativeReload.Isolation;

/// <summary>The worker died (or hung and was killed) while running a generation.</summary>
/// <param name="filePath">The library file.</param>
/// <param name="generation">The generation that was running or being loaded.</param>
/// <param name="exit">How the worker ended.</param>
/// <param name="duringLoad">True when it died while loading that generation (in <c>nr_load</c> or a constructor).</param>
public sealed class WorkerCrashedEventArgs(string filePath, long generation, WorkerExit exit, bool duringLoad) : EventArgs
{
    /// <summary>The library file.</summary>
    public string FilePath { get; } = filePath;

    /// <summary>The generation that was running (or being loaded) when the worker died.</summary>
    public long Generation { get; } = generation;

    /// <summary>How the worker ended.</summary>
    public WorkerExit Exit { get; } = exit;

    /// <summary>True when the worker died while loading <see cref="Generation"/>.</summary>
    public bool DuringLoad { get; } = duringLoad;

    /// <summary>The CLI's line: <c>crashed: &lt;file&gt; generation N (signal SIGSEGV)</c>.</summary>
    public override string ToString() => $"crashed: {FilePath} generation {Generation} ({Exit.Description})";
}

/// <summary>
/// A call did not return because the worker died or hung. The host has already restarted a worker on the last
/// generation that did not crash (when there is one): the next call can go ahead.
/// </summary>
public sealed class WorkerCrashedException : Exception
{
    /// <summary>Creates the exception from the crash report.</summary>
    public WorkerCrashedException(WorkerCrashedEventArgs crash)
        : base(crash?.ToString())
    {
        ArgumentNullException.ThrowIfNull(crash);
        Crash = crash;
    }

    /// <summary>What happened.</summary>
    public WorkerCrashedEventArgs Crash { get; }
}

/// <summary>A call could not be made in the worker (for example the export does not exist in this generation).</summary>
public sealed class IsolatedCallException(string message) : Exception(message);

/// <summary>No generation can run: every one that was loaded crashed. A new build of the file is loaded when it appears.</summary>
public sealed class IsolatedLibraryUnavailableException(string message) : Exception(message);
