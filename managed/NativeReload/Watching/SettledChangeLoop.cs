using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace NativeReload.Watching;

/// <summary>
/// Turns change notifications for one library file into calls of an attempt callback once the file has been quiet for
/// as long as the last kind of change needs: a file its writer closed is read at once, a rename is atomic (short
/// debounce), a write in place that is still open (or on a platform with no close event) waits for a quiet period.
/// When the attempt reports that the file has not settled yet (missing, empty, half-written), it is tried again after
/// another quiet period. Shared by the in-process <see cref="Reloading.ReloadableLibrary{TExports}"/> and the isolated
/// <see cref="Isolation.IsolatedLibrary"/>.
/// </summary>
/// <remarks>
/// <para>No thread of its own: every library in the process shares one watcher (<see cref="InotifyHub"/> on Linux),
/// one scheduling thread (<see cref="ChangeScheduler"/>) that decides when a library is due, and the thread pool, where
/// the attempt runs. A library that is reloading therefore delays no other library's detection.</para>
/// <para>Rules kept per library: the attempt never runs concurrently with itself; a change seen while it runs is
/// looked at again after it (no change is lost); <see cref="Dispose"/> never waits for a running attempt (it may be
/// blocked on the owner, who may be the one disposing).</para>
/// </remarks>
internal sealed class SettledChangeLoop : IDisposable
{
    private readonly Func<bool> _attempt;
    private readonly Action<Exception> _onError;
    private readonly TimeSpan _renameDebounce;
    private readonly TimeSpan _quietPeriod;
    private readonly TimeSpan _settleTimeout;
    private readonly ChangeScheduler _scheduler;
    private readonly LibraryFileWatcher _watcher;
    private readonly Lock _gate = new();
    private long _lastChangeTimestamp = Stopwatch.GetTimestamp();
    private int _lastChangeKind;

    // Under _gate:
    private bool _changed;          // a change not yet covered by an attempt that started after it
    private long _retryAt;          // when a not-settled file is looked at again with no further change (0: none)
    private bool _running;          // an attempt is on the thread pool
    private long _scheduledFor = long.MaxValue; // due time of the live scheduler entry (older entries are stale)
    private bool _disposed;

    /// <param name="path">The library file to watch.</param>
    /// <param name="options">Debounce, quiet period, settle timeout and polling interval.</param>
    /// <param name="attempt">Reads and loads the file; returns true when it has not settled and must be tried again.
    /// Runs on the thread pool, never twice at once for this loop.</param>
    /// <param name="onError">Receives an unexpected exception of <paramref name="attempt"/>; the loop goes on.</param>
    /// <param name="logger">The watcher's diagnostics.</param>
    public SettledChangeLoop(string path, Reloading.ReloadOptions options,
        Func<bool> attempt, Action<Exception> onError, ILogger logger)
    {
        _attempt = attempt;
        _onError = onError;
        _renameDebounce = options.RenameDebounce;
        _quietPeriod = options.QuietPeriod;
        _settleTimeout = options.SettleTimeout;
        _scheduler = ChangeScheduler.Shared;
        _watcher = new LibraryFileWatcher(path, options.PollInterval, OnFileChanged, logger);
    }

    /// <summary>Time since the last change was noticed.</summary>
    public TimeSpan SinceLastChange => Stopwatch.GetElapsedTime(Volatile.Read(ref _lastChangeTimestamp));

    /// <summary>
    /// True when <paramref name="failure"/> may still go away on its own (missing, empty, incomplete, unreadable: the
    /// file is being replaced) and the file changed less than the settle timeout ago: try again instead of reporting.
    /// </summary>
    public bool StillSettling(Reloading.LibraryLoadException failure) => failure.IsTransient && SinceLastChange < _settleTimeout;

    /// <summary>
    /// Stops watching. Does not wait for an attempt that is running: it may be inside an event handler that waits for
    /// the owner's <c>Dispose</c> on another thread, and waiting for it would deadlock. The owner serialises with a
    /// running attempt through its own lock; no attempt starts after this returns.
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        _watcher.Dispose();
    }

    /// <summary>Called by the scheduler at a due time this loop asked for: starts the attempt, or asks again for later.</summary>
    internal void OnDue(long dueTimestamp)
    {
        lock (_gate)
        {
            if (_disposed || _running || dueTimestamp != _scheduledFor)
            {
                return; // stopped; the attempt's end reschedules; or a stale entry superseded by an earlier one
            }

            _scheduledFor = long.MaxValue;
            if (!_changed && _retryAt == 0)
            {
                return;
            }

            long due = DueLocked();
            if (due > Stopwatch.GetTimestamp())
            {
                ScheduleLocked(due); // changed again since this was scheduled: wait for the new quiet
                return;
            }

            _changed = false; // a change from now on is after the attempt's read: it gets an attempt of its own
            _retryAt = 0;
            _running = true;
        }

        ThreadPool.UnsafeQueueUserWorkItem(static loop => loop.RunAttempt(), this, preferLocal: false);
    }

    private void OnFileChanged(FileChangeKind kind)
    {
        // A metadata change (the chmod after a linker's close) is looked at, but must neither turn a closed file back
        // into one that waits for quiet nor restart the quiet period of a write in progress.
        if (kind != FileChangeKind.Attributes)
        {
            Volatile.Write(ref _lastChangeKind, (int)kind);
            Volatile.Write(ref _lastChangeTimestamp, Stopwatch.GetTimestamp());
        }

        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _changed = true;
            if (!_running)
            {
                ScheduleLocked(DueLocked());
            }
        }
    }

    private void RunAttempt()
    {
        bool notSettled = false;
        try
        {
            notSettled = _attempt();
        }
        catch (Exception e)
        {
            try
            {
                _onError(e); // the current generation must keep serving, and this library must keep being watched
            }
            catch (Exception)
            {
                // the error reporter (a logger) threw too: nothing left to tell
            }
        }

        lock (_gate)
        {
            _running = false;
            if (_disposed)
            {
                return;
            }

            if (notSettled)
            {
                _retryAt = Stopwatch.GetTimestamp() + ToTicks(_quietPeriod);
            }

            if (_changed || _retryAt != 0)
            {
                ScheduleLocked(DueLocked());
            }
        }
    }

    /// <summary>
    /// When the next attempt may start: after the quiet time the last change needs, and for a retry with no new change,
    /// not before the retry time (a new change may make it sooner: a close ends the wait).
    /// </summary>
    private long DueLocked()
    {
        long quiet = Volatile.Read(ref _lastChangeTimestamp) + ToTicks(RequiredQuiet((FileChangeKind)Volatile.Read(ref _lastChangeKind)));
        return _changed ? quiet : Math.Max(quiet, _retryAt);
    }

    private void ScheduleLocked(long due)
    {
        if (due >= _scheduledFor)
        {
            return; // the live entry comes first and re-checks then
        }

        _scheduledFor = due;
        _scheduler.Schedule(this, due);
    }

    /// <summary>
    /// How long the file must stay quiet after a change of <paramref name="kind"/> before it is read: none after a writer
    /// closed it (the writer said it is finished), the short debounce after a rename (atomic), else the quiet period
    /// (a write in place that has not been closed, or a platform that does not report closes).
    /// </summary>
    private TimeSpan RequiredQuiet(FileChangeKind kind) => kind switch
    {
        FileChangeKind.Closed => TimeSpan.Zero,
        FileChangeKind.Renamed => _renameDebounce,
        _ => _quietPeriod,
    };

    private static long ToTicks(TimeSpan time) => (long)(time.TotalSeconds * Stopwatch.Frequency);
}
