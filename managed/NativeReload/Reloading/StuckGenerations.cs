using Microsoft.Extensions.Logging;
using NativeReload.Calling;
using NativeReload.Loading;

namespace NativeReload.Reloading;

/// <summary>
/// Generations that were retired while a call was still inside them (a call that outlasted the retire timeout, or a
/// <c>Dispose</c> from inside a call scope). They stay loaded, with everything such a call can reach, and are retried
/// on a thread-pool timer until the last call has returned; then the owner frees them. When the owner is closed and
/// the last one is freed, the owner's final release runs (the state block, the shadow directory).
/// </summary>
/// <remarks>
/// Rule: nothing a running call can reach is freed. The timer costs nothing while the list is empty (it exists only
/// while something is stuck) and never runs user code under its lock.
/// </remarks>
internal sealed class StuckGenerations
{
    /// <summary>How often a stuck generation is checked again.</summary>
    internal static readonly TimeSpan RetryInterval = TimeSpan.FromMilliseconds(50);

    private readonly Lock _lock = new();
    private readonly List<LibraryGeneration> _entries = [];
    private readonly Action<LibraryGeneration, Outbox> _free;
    private readonly Action _release;
    private readonly ILogger _logger;
    private readonly string _file;
    private Timer? _timer;
    private int _freeing; // taken out of the list, being freed outside the lock: the final release waits for them too
    private bool _closed;
    private bool _released;

    /// <param name="free">Frees one drained generation (its hooks, its copy); runs outside the lock.</param>
    /// <param name="release">The owner's final release, run once: after <see cref="Close"/> when nothing is stuck.</param>
    /// <param name="logger">For the drained lines and for errors of <paramref name="free"/>.</param>
    /// <param name="file">The library's path, for messages.</param>
    public StuckGenerations(Action<LibraryGeneration, Outbox> free, Action release, ILogger logger, string file)
    {
        _free = free;
        _release = release;
        _logger = logger;
        _file = file;
    }

    /// <summary>How many generations are waiting for their calls to return.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Keeps <paramref name="generation"/> until no call is inside it.</summary>
    public void Add(LibraryGeneration generation)
    {
        lock (_lock)
        {
            _entries.Add(generation);
            _timer ??= new Timer(_ => Drain(), null, RetryInterval, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The owner is disposed: release its resources now if nothing is stuck, else when the last one drains.</summary>
    public void Close()
    {
        lock (_lock)
        {
            _closed = true;
        }

        Drain();
    }

    /// <summary>Frees every stuck generation that no call is inside any more; re-arms the timer for the rest.</summary>
    public void Drain()
    {
        var outbox = new Outbox();
        try
        {
            List<LibraryGeneration> drained = TakeDrained();
            foreach (LibraryGeneration generation in drained)
            {
                try
                {
                    _free(generation, outbox);
                    outbox.Add(() => Log.StuckDrained(_logger, _file, generation.Number));
                }
                catch (Exception e)
                {
                    outbox.Add(() => Log.WorkerError(_logger, e, _file));
                }
            }

            lock (_lock)
            {
                _freeing -= drained.Count;
            }

            if (ShouldRelease())
            {
                _release();
            }
        }
        catch (Exception e)
        {
            // A timer callback must never throw: that would end the process.
            outbox.Add(() => Log.WorkerError(_logger, e, _file));
        }
        finally
        {
            outbox.Deliver(_logger, _file);
        }
    }

    private List<LibraryGeneration> TakeDrained()
    {
        lock (_lock)
        {
            List<LibraryGeneration> drained = [];
            if (_entries.Count > 0)
            {
                Interlocked.MemoryBarrierProcessWide(); // makes every caller's slot writes visible (see ReaderSlots)
                for (int i = _entries.Count - 1; i >= 0; i--)
                {
                    if (!ReaderSlots.IsInUse(_entries[i]))
                    {
                        drained.Add(_entries[i]);
                        _entries.RemoveAt(i);
                        _freeing++;
                    }
                }
            }

            if (_entries.Count == 0)
            {
                _timer?.Dispose();
                _timer = null;
            }
            else
            {
                _timer?.Change(RetryInterval, Timeout.InfiniteTimeSpan);
            }

            return drained;
        }
    }

    private bool ShouldRelease()
    {
        lock (_lock)
        {
            if (!_closed || _released || _entries.Count > 0 || _freeing > 0)
            {
                return false;
            }

            _released = true;
            return true;
        }
    }
}
