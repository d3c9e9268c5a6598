namespace NativeReload.Reloading;

/// <summary>A new generation became current.</summary>
/// <param name="filePath">The library file.</param>
/// <param name="generation">Number of the new current generation.</param>
/// <param name="previousGeneration">Number of the generation it replaced.</param>
/// <param name="loadDuration">Reading, validating, copying, loading and binding the new file.</param>
public sealed class ReloadedEventArgs(string filePath, long generation, long previousGeneration, TimeSpan loadDuration) : EventArgs
{
    /// <summary>The library file.</summary>
    public string FilePath { get; } = filePath;

    /// <summary>Number of the new current generation.</summary>
    public long Generation { get; } = generation;

    /// <summary>Number of the generation it replaced.</summary>
    public long PreviousGeneration { get; } = previousGeneration;

    /// <summary>Reading, validating, copying, loading and binding the new file.</summary>
    public TimeSpan LoadDuration { get; } = loadDuration;
}

/// <summary>A change to the file could not be loaded; <see cref="RunningGeneration"/> keeps serving.</summary>
/// <param name="failure">The exception with the file, the reason and the loader's own message.</param>
/// <param name="runningGeneration">The generation that is still current.</param>
public sealed class ReloadFailedEventArgs(LibraryLoadException failure, long runningGeneration) : EventArgs
{
    /// <summary>The library file.</summary>
    public string FilePath => Failure.FilePath;

    /// <summary>The category of the failure.</summary>
    public ReloadFailureReason Reason => Failure.Reason;

    /// <summary>One line without the file name, e.g. <c>missing export get_message</c>.</summary>
    public string Detail => Failure.Detail;

    /// <summary>The generation that is still current.</summary>
    public long RunningGeneration { get; } = runningGeneration;

    /// <summary>The exception with the full details, including the loader's own message.</summary>
    public LibraryLoadException Failure { get; } = failure;
}

/// <summary>An old generation was freed after the last call inside it returned.</summary>
/// <param name="filePath">The library file.</param>
/// <param name="generation">Number of the retired generation.</param>
/// <param name="unmapped">Whether the OS really unmapped the code; see <see cref="Unmapped"/>.</param>
public sealed class GenerationRetiredEventArgs(string filePath, long generation, bool? unmapped) : EventArgs
{
    /// <summary>The library file.</summary>
    public string FilePath { get; } = filePath;

    /// <summary>Number of the retired generation.</summary>
    public long Generation { get; } = generation;

    /// <summary>
    /// False when the OS kept the code mapped after the free (C++ <c>thread_local</c> destructors, Rust thread-locals,
    /// <c>STB_GNU_UNIQUE</c>, <c>RTLD_NODELETE</c>): that mapping stays for the life of the process. Null where the
    /// OS cannot tell (only Linux is inspected).
    /// </summary>
    public bool? Unmapped { get; } = unmapped;
}

/// <summary>The result of one explicit <see cref="ReloadableLibrary{TExports}.Reload"/>.</summary>
public enum ReloadOutcome
{
    /// <summary>A new generation was loaded (and is current, or pending in <see cref="ApplyMode.AtSafePoint"/> mode).</summary>
    Loaded,

    /// <summary>The file's content is the one already loaded: nothing to do.</summary>
    Unchanged,

    /// <summary>The file could not be loaded; the current generation keeps serving.</summary>
    Failed,
}
