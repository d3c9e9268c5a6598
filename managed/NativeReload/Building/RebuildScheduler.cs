using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NativeReload.Building;

/// <summary>
/// Watches a source tree and runs the build command when it changes: debounced, never two builds at once, and a
/// change made while a build runs queues exactly one more build (however many files were saved meanwhile) unless the
/// build wrote it itself (see <see cref="BuildWrites"/>).
/// </summary>
/// <remarks>Callbacks run on the scheduler's own task, one at a time, in order.</remarks>
public sealed class RebuildScheduler : IDisposable
{
    /// <summary>After a build exits, how long the tree must be quiet before its changes are sorted (late watcher events).</summary>
    private static readonly TimeSpan SettleQuiet = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan SettleLimit = TimeSpan.FromSeconds(1);

    private readonly string _command;
    private readonly string _workingDirectory;
    private readonly SourceChangeFilter _filter;
    private readonly TimeSpan _debounce;
    private readonly ILogger _logger;
    private readonly FileSystemWatcher _watcher;
    private readonly SemaphoreSlim _dirty = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly BuildWrites _writes;
    private Task? _loop;
    private long _lastChange;
    private long _lastChangeDuringBuild;
    private bool _lostEventsDuringBuild;

    /// <summary>Creates the scheduler and takes stock of the tree (<see cref="Scan"/>); call <see cref="Start"/> to begin watching.</summary>
    /// <param name="command">The build command line.</param>
    /// <param name="sourceDirectory">The tree to watch (recursively).</param>
    /// <param name="filter">Which changes count.</param>
    /// <param name="debounce">Quiet time after the last change before a build starts (editors write in several steps).</param>
    /// <param name="workingDirectory">Where the command runs; default: the current directory.</param>
    /// <param name="logger">Receives, at Debug, every change and why it did or did not start a build.</param>
    public RebuildScheduler(string command, string sourceDirectory, SourceChangeFilter filter, TimeSpan debounce, string? workingDirectory = null, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        ArgumentNullException.ThrowIfNull(filter);
        if (!Directory.Exists(sourceDirectory))
        {
            throw new DirectoryNotFoundException($"{sourceDirectory}: source directory not found");
        }

        _command = command;
        _workingDirectory = workingDirectory ?? Directory.GetCurrentDirectory();
        _filter = filter;
        _debounce = debounce;
        _logger = SafeLogger.Wrap(logger); // a throwing host logger must not break a reload, a build or a worker restart
        _watcher = new FileSystemWatcher(sourceDirectory)
        {
            IncludeSubdirectories = true,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.DirectoryName,
            InternalBufferSize = 64 * 1024,
        };
        _watcher.Created += (_, e) => OnChange(e.FullPath, appeared: true);
        _watcher.Changed += (_, e) => OnChange(e.FullPath);
        _watcher.Deleted += (_, e) => OnChange(e.FullPath);
        _watcher.Renamed += (_, e) =>
        {
            OnChange(e.OldFullPath);
            OnChange(e.FullPath, appeared: true);
        };
        _watcher.Error += (_, e) => OnLostEvents(e.GetException().Message);
        Scan = SourceTreeScan.Run(filter, (path, rule) => BuildLog.IgnoredAtStart(_logger, Shown(path), rule));
        _writes = new BuildWrites(Scan.Files);
        _watcher.EnableRaisingEvents = true; // from now on: a save during the first build is not lost
    }

    /// <summary>A build is starting; the argument is the command line.</summary>
    public event Action<string>? BuildStarted;

    /// <summary>One line of the build's output.</summary>
    public event Action<string>? BuildOutput;

    /// <summary>A build ended.</summary>
    public event Action<BuildResult>? BuildFinished;

    /// <summary>How many builds ran so far.</summary>
    public int BuildCount { get; private set; }

    /// <summary>The tree as it was when the scheduler was created: the files whose change starts a build, and what is ignored.</summary>
    public SourceTreeScan Scan { get; }

    /// <summary>Runs one build now, on the caller's task (the initial build, before <see cref="Start"/>).</summary>
    /// <param name="cancel">Stops the build.</param>
    public Task<BuildResult> BuildNowAsync(CancellationToken cancel) => BuildAsync(cancel);

    /// <summary>Starts building on changes. Changes seen since construction but after the last build started are built at once.</summary>
    public void Start() => _loop = Task.Run(() => LoopAsync(_stop.Token));

    /// <summary>Stops watching and kills a running build.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        _watcher.Dispose();
        try
        {
            _loop?.Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
            // cancelled
        }

        _stop.Dispose();
        _dirty.Dispose();
    }

    private void OnChange(string path, bool appeared = false)
    {
        string? why = _filter.WhyIgnored(path);
        if (ReferenceEquals(why, SourceChangeFilter.IgnoreRulesFile))
        {
            _filter.ReloadIgnoreFiles();
            BuildLog.IgnoreFileChanged(_logger, Shown(path));
            return;
        }

        if (ReferenceEquals(why, SourceChangeFilter.FolderItself))
        {
            if (appeared)
            {
                // A folder created or moved in with files already inside (a checkout, mkdir + cp, mv): the watcher
                // reports only what changes after it started watching the new folder, so look at what is there.
                foreach (string file in SourceTreeScan.Run(_filter, root: path).Files)
                {
                    OnChange(file);
                }
            }

            return;
        }

        if (why is not null)
        {
            BuildLog.Ignored(_logger, Shown(path), why);
            return;
        }

        lock (_gate)
        {
            if (_writes.Building)
            {
                // Sorted when the build ends: the build's own write, or a save that needs one more build.
                _writes.ChangedDuringBuild(path);
                Volatile.Write(ref _lastChangeDuringBuild, Environment.TickCount64);
                return;
            }

            _writes.ChangedWhileIdle(path);
        }

        BuildLog.Counted(_logger, Shown(path));
        MarkDirty();
    }

    /// <summary>
    /// The watcher's queue overflowed. While no build runs: build to be safe. During a build (a large build writing
    /// thousands of files into the tree overflows it): compare the tree with what was last seen when the build ends, or
    /// every such build would start the next one.
    /// </summary>
    private void OnLostEvents(string reason)
    {
        BuildLog.WatcherError(_logger, reason);
        lock (_gate)
        {
            if (_writes.Building)
            {
                _lostEventsDuringBuild = true;
                return;
            }
        }

        MarkDirty();
    }

    private void MarkDirty()
    {
        Volatile.Write(ref _lastChange, Environment.TickCount64);
        try
        {
            if (_dirty.CurrentCount == 0)
            {
                _dirty.Release(); // at most one pending build, however many saves
            }
        }
        catch (Exception e) when (e is SemaphoreFullException or ObjectDisposedException)
        {
            // already pending, or shutting down
        }
    }

    private async Task LoopAsync(CancellationToken cancel)
    {
        try
        {
            while (true)
            {
                await _dirty.WaitAsync(cancel).ConfigureAwait(false);
                // Wait until the tree has been quiet for the debounce time (an editor's save is several writes).
                long quietFor;
                while ((quietFor = Environment.TickCount64 - Volatile.Read(ref _lastChange)) < (long)_debounce.TotalMilliseconds)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(_debounce.TotalMilliseconds - quietFor), cancel).ConfigureAwait(false);
                }

                await BuildAsync(cancel).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    private async Task<BuildResult> BuildAsync(CancellationToken cancel)
    {
        lock (_gate)
        {
            _writes.BuildStarting();
        }

        // Saves made before this build starts are in this build: forget them. Saves made while it runs are sorted
        // when it ends; one that is not the build's own write queues exactly one more build.
        _dirty.Wait(0, CancellationToken.None);
        BuildCount++;
        BuildStarted?.Invoke(_command);
        BuildResult result = await BuildCommandRunner.RunAsync(_command, _workingDirectory, line => BuildOutput?.Invoke(line), cancel).ConfigureAwait(false);
        BuildFinished?.Invoke(result);
        if (!result.Cancelled)
        {
            await SettleAsync(cancel).ConfigureAwait(false);
        }

        SortChangesMadeDuringTheBuild();
        return result;
    }

    /// <summary>The watcher reports the build's last writes a little after it exits: wait for them.</summary>
    private async Task SettleAsync(CancellationToken cancel)
    {
        long start = Environment.TickCount64;
        try
        {
            await Task.Delay(SettleQuiet / 2, cancel).ConfigureAwait(false);
            while (Environment.TickCount64 - Volatile.Read(ref _lastChangeDuringBuild) < (long)SettleQuiet.TotalMilliseconds
                   && Environment.TickCount64 - start < (long)SettleLimit.TotalMilliseconds)
            {
                await Task.Delay(SettleQuiet / 4, cancel).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // stopping: nothing more to sort
        }
    }

    private void SortChangesMadeDuringTheBuild()
    {
        IReadOnlyList<string> found = [];
        bool lost;
        lock (_gate)
        {
            lost = _lostEventsDuringBuild;
            _lostEventsDuringBuild = false;
        }

        if (lost)
        {
            SourceTreeScan now = SourceTreeScan.Run(_filter);
            lock (_gate)
            {
                found = _writes.Differing(now.Files);
            }
        }

        IReadOnlyList<(string Path, string? BuildsOwn)> sorted;
        lock (_gate)
        {
            foreach (string path in found)
            {
                _writes.ChangedDuringBuild(path);
            }

            sorted = _writes.BuildEnded();
        }

        bool again = false;
        foreach ((string path, string? buildsOwn) in sorted)
        {
            if (buildsOwn is null)
            {
                BuildLog.SavedDuringBuild(_logger, Shown(path));
                again = true;
            }
            else
            {
                if (buildsOwn.StartsWith("rewritten by every build", StringComparison.Ordinal))
                {
                    BuildLog.RewrittenByEveryBuild(_logger, Shown(path));
                }

                BuildLog.Ignored(_logger, Shown(path), buildsOwn);
            }
        }

        if (again)
        {
            MarkDirty();
        }
    }

    private string Shown(string path) => Path.GetRelativePath(_filter.Root, Path.GetFullPath(path)).Replace(Path.DirectorySeparatorChar, '/');
}
