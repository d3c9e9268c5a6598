using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace NativeReload.Watching;

/// <summary>
/// Turns change notifications for one library file into calls of an attempt callback, on one background thread,
/// once the file has been quiet for as long as the last kind of change needs: a file its writer closed is read at once,
/// a rename is atomic (short debounce), a write in place that is still open (or on a platform with no close event) waits
/// for a quiet period. When the attempt reports that the file has not settled
/// yet (missing, empty, half-written), it is tried again after another quiet period. Shared by the in-process
/// <see cref="Reloading.ReloadableLibrary{TExports}"/> and the isolated <see cref="Isolation.IsolatedLibrary"/>.
/// </summary>
internal sealed class SettledChangeLoop : IDisposable
{
    private readonly Func<bool> _attempt;
    private readonly Action<Exception> _onError;
    private readonly TimeSpan _renameDebounce;
    private readonly TimeSpan _quietPeriod;
    private readonly TimeSpan _settleTimeout;
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly LibraryFileWatcher _watcher;
    private readonly Thread _thread;
    private long _lastChangeTimestamp = Stopwatch.GetTimestamp();
    private int _lastChangeKind;
    private int _disposed;

    /// <param name="path">The library file to watch.</param>
    /// <param name="threadName">Name of the background thread (shows in debuggers).</param>
    /// <param name="options">Debounce, quiet period, settle timeout and polling interval.</param>
    /// <param name="attempt">Reads and loads the file; returns true when it has not settled and must be tried again.</param>
    /// <param name="onError">Receives an unexpected exception of <paramref name="attempt"/>; the loop goes on.</param>
    /// <param name="logger">The watcher's diagnostics.</param>
    public SettledChangeLoop(string path, string threadName, Reloading.ReloadOptions options,
        Func<bool> attempt, Action<Exception> onError, ILogger logger)
    {
        _attempt = attempt;
        _onError = onError;
        _renameDebounce = options.RenameDebounce;
        _quietPeriod = options.QuietPeriod;
        _settleTimeout = options.SettleTimeout;
        _watcher = new LibraryFileWatcher(path, options.PollInterval, OnFileChanged, logger);
        _thread = new Thread(Loop) { IsBackground = true, Name = threadName };
        _thread.Start();
    }

    /// <summary>Time since the last change was noticed.</summary>
    public TimeSpan SinceLastChange => Stopwatch.GetElapsedTime(Volatile.Read(ref _lastChangeTimestamp));

    /// <summary>
    /// True when <paramref name="failure"/> may still go away on its own (missing, empty, incomplete, unreadable: the
    /// file is being replaced) and the file changed less than the settle timeout ago: try again instead of reporting.
    /// </summary>
    public bool StillSettling(Reloading.LibraryLoadException failure) => failure.IsTransient && SinceLastChange < _settleTimeout;

    /// <summary>
    /// Stops watching. Does not wait for the loop's thread: it may be inside an event handler that waits for the owner's
    /// <c>Dispose</c> on another thread, and joining it would deadlock. The owner serialises with a running attempt
    /// through its own lock; the thread ends at its next check and releases its own resources.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stop.Cancel();
        _watcher.Dispose();
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

        if (_signal.CurrentCount == 0 && Volatile.Read(ref _disposed) == 0)
        {
            try
            {
                _signal.Release();
            }
            catch (ObjectDisposedException)
            {
                // raced with Dispose: nothing left to reload
            }
        }
    }

    private void Loop()
    {
        try
        {
            RunUntilStopped();
        }
        finally
        {
            _stop.Dispose();
            _signal.Dispose();
        }
    }

    private void RunUntilStopped()
    {
        CancellationToken token = _stop.Token;
        TimeSpan wait = Timeout.InfiniteTimeSpan;
        while (!token.IsCancellationRequested)
        {
            try
            {
                bool signalled = _signal.Wait(wait, token);
                if (!signalled && wait == Timeout.InfiniteTimeSpan)
                {
                    continue;
                }

                WaitForQuiet(token);
                token.ThrowIfCancellationRequested();
                wait = _attempt() ? _quietPeriod : Timeout.InfiniteTimeSpan;
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                try
                {
                    _onError(e); // never let the reload thread die: the current generation must keep serving
                }
                catch (Exception)
                {
                    // the error reporter (a logger) threw too: nothing left to tell, and the thread must live on
                }

                wait = Timeout.InfiniteTimeSpan;
            }
        }
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

    /// <summary>Sleeps until no change has been seen for the quiet time that the last kind of change needs (throws when stopped).</summary>
    private void WaitForQuiet(CancellationToken token)
    {
        while (true)
        {
            TimeSpan required = RequiredQuiet((FileChangeKind)Volatile.Read(ref _lastChangeKind));
            TimeSpan since = SinceLastChange;
            if (since >= required)
            {
                return;
            }

            // Woken by the next change, not only by the clock: a close after a delete (GNU ld) must not sit out the
            // delete's quiet period. The change that woke it is covered by the attempt that follows.
            _signal.Wait(required - since, token);
        }
    }
}
