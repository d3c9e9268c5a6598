using NativeReload.Reloading;

namespace NativeReload.Cli.Running;

/// <summary>
/// Says what each build did, in one line: <c>rebuilt in 1.42 s, reloaded in 3 ms, generation 7</c>,
/// <c>rebuilt in 0.30 s, library unchanged; …</c> or <c>build failed (exit 2); still running generation 6</c>.
/// </summary>
/// <remarks>
/// The library's own file watcher stays on in <c>watch</c> (a build run by hand in another terminal is still picked
/// up), so it may load the new file while the build process is still finishing. Reloads seen during a build are
/// therefore held back and reported as that build's result when it ends.
/// </remarks>
internal sealed class BuildStatusReporter
{
    private readonly ReloadLoop _loop;
    private readonly TextWriter _stderr;
    private readonly Lock _gate = new();
    private bool _building;
    private TimeSpan? _succeededBuild; // a successful build whose reload has not been reported yet
    private ReloadedEventArgs? _loadedDuringBuild;

    public BuildStatusReporter(ReloadLoop loop, TextWriter stderr)
    {
        _loop = loop;
        _stderr = stderr;
        loop.DescribeReload = Describe;
    }

    public void BuildStarted()
    {
        lock (_gate)
        {
            _building = true;
            _loadedDuringBuild = null;
            _succeededBuild = null;
        }
    }

    public void BuildFinished(Building.BuildResult result)
    {
        if (result.Cancelled)
        {
            return;
        }

        if (!result.Succeeded)
        {
            ReloadedEventArgs? loaded;
            lock (_gate)
            {
                _building = false;
                loaded = _loadedDuringBuild;
                _loadedDuringBuild = null;
            }

            if (loaded is not null)
            {
                _stderr.WriteLine(ReportLines.Reloaded(loaded));
            }

            _stderr.WriteLine($"build failed (exit {result.ExitCode}); still running generation {_loop.Library.Current.Number}");
            return;
        }

        lock (_gate)
        {
            _building = false;
            if (_loadedDuringBuild is { } loaded)
            {
                _stderr.WriteLine(StatusLine(result.Duration, loaded));
                _loadedDuringBuild = null;
            }
            else
            {
                _succeededBuild = result.Duration;
            }
        }

        // Reload at once rather than after the watcher's quiet period: the build has exited, the file is complete.
        ReloadOutcome outcome = _loop.Library.Reload();
        if (outcome == ReloadOutcome.Loaded || _loop.Library.HasPendingReload)
        {
            _loop.Wake(); // applied now; Describe prints the status line
            return;
        }

        lock (_gate)
        {
            if (_succeededBuild is null)
            {
                return; // already reported
            }

            _succeededBuild = null;
        }

        if (outcome == ReloadOutcome.Unchanged)
        {
            _stderr.WriteLine($"rebuilt in {result.Duration.TotalSeconds:F2} s, library unchanged; still running generation {_loop.Library.Current.Number}");
        }

        // Failed: the library already said "reload failed: <file>: <reason>; still running generation N".
    }

    private string? Describe(ReloadedEventArgs e)
    {
        lock (_gate)
        {
            if (_succeededBuild is { } build)
            {
                _succeededBuild = null;
                return StatusLine(build, e);
            }

            if (_building)
            {
                _loadedDuringBuild = e;
                return null;
            }

            return ReportLines.Reloaded(e);
        }
    }

    private static string StatusLine(TimeSpan build, ReloadedEventArgs e) =>
        $"rebuilt in {build.TotalSeconds:F2} s, reloaded in {e.LoadDuration.TotalMilliseconds:F0} ms, generation {e.Generation}";
}
