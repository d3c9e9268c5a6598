using System.Diagnostics;

namespace NativeReload.Watching;

/// <summary>
/// The one thread that decides when each watched library is looked at: a queue of due times, one entry per library
/// waiting for quiet. It never reads a file itself; due libraries start their attempt on the thread pool, so a library
/// that is reloading (or whose handler blocks) delays nobody else's detection.
/// </summary>
/// <remarks>One per process, started with the first watched library and kept for the process's life (an idle
/// thread blocked on a monitor). Shared by every <see cref="SettledChangeLoop"/>.</remarks>
internal sealed class ChangeScheduler
{
    private static readonly Lazy<ChangeScheduler> s_shared = new(() => new ChangeScheduler(), LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly object _sync = new();
    private readonly PriorityQueue<SettledChangeLoop, long> _queue = new();
    private readonly Thread _thread;

    private ChangeScheduler()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "NativeReload changes" };
        _thread.Start();
    }

    /// <summary>The process's scheduler.</summary>
    public static ChangeScheduler Shared => s_shared.Value;

    /// <summary>Entries waiting (tests and diagnostics; a library may have a stale entry or two besides its live one).</summary>
    public int Queued
    {
        get
        {
            lock (_sync)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Calls <see cref="SettledChangeLoop.OnDue"/> of <paramref name="loop"/> at <paramref name="dueTimestamp"/> (a <see cref="Stopwatch"/> timestamp) or soon after.</summary>
    public void Schedule(SettledChangeLoop loop, long dueTimestamp)
    {
        lock (_sync)
        {
            _queue.Enqueue(loop, dueTimestamp);
            if (_queue.TryPeek(out _, out long first) && first == dueTimestamp)
            {
                Monitor.Pulse(_sync); // the new entry is the earliest: the thread may be sleeping for a later one
            }
        }
    }

    private void Run()
    {
        var due = new List<(SettledChangeLoop Loop, long Due)>();
        while (true)
        {
            lock (_sync)
            {
                while (true)
                {
                    long now = Stopwatch.GetTimestamp();
                    while (_queue.TryPeek(out SettledChangeLoop? loop, out long at) && at <= now)
                    {
                        _queue.Dequeue();
                        due.Add((loop, at));
                    }

                    if (due.Count > 0)
                    {
                        break;
                    }

                    if (_queue.TryPeek(out _, out long next))
                    {
                        // Round up: waking a millisecond early would only spin through here again.
                        long ticks = next - now;
                        int milliseconds = (int)Math.Min(int.MaxValue, ((ticks * 1000) + Stopwatch.Frequency - 1) / Stopwatch.Frequency);
                        Monitor.Wait(_sync, Math.Max(1, milliseconds));
                    }
                    else
                    {
                        Monitor.Wait(_sync);
                    }
                }
            }

            foreach ((SettledChangeLoop loop, long at) in due)
            {
                try
                {
                    loop.OnDue(at);
                }
                catch (Exception)
                {
                    // OnDue only does bookkeeping and queues work; nothing may end the thread every library depends on
                }
            }

            due.Clear();
        }
    }
}
