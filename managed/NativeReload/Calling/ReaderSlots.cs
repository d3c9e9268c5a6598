using System.Runtime.CompilerServices;
using NativeReload.Loading;

namespace NativeReload.Calling;

/// <summary>
/// Per-thread records of the generations a thread is calling into, so a generation is freed only after
/// the last call that entered it has returned.
/// </summary>
/// <remarks>
/// <para>
/// This is a hazard-pointer scheme with an asymmetric fence. A caller only writes its own thread's slot and
/// re-reads the current generation: no interlocked instruction, no shared cache line, so two calling threads
/// never fight. The rare side (a reload) pays instead: after publishing the new generation it issues
/// <see cref="Interlocked.MemoryBarrierProcessWide"/>, which makes every thread's pending slot writes visible,
/// and then waits until no slot names the old generation.
/// </para>
/// <para>
/// Why it is safe: a caller writes its slot, then re-reads <c>current</c>. If that re-read still sees the old
/// generation, the write happened before the reloader's process-wide barrier, so the reloader's scan sees it.
/// If the write happened after the barrier, the re-read sees the new generation and the caller retries.
/// </para>
/// </remarks>
internal static class ReaderSlots
{
    /// <summary>How deep scopes may nest on one thread (scopes of several libraries, or re-entrant calls).</summary>
    public const int MaxDepth = 16;

    [ThreadStatic]
    private static CallerSlot? t_slot;

    private static readonly Lock s_registryLock = new();
    private static readonly List<WeakReference<CallerSlot>> s_registry = [];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static CallerSlot Current() => t_slot ?? Register();

    /// <summary>True while any thread is inside <paramref name="generation"/>. Call after the process-wide barrier.</summary>
    public static bool IsInUse(LibraryGeneration generation)
    {
        lock (s_registryLock)
        {
            for (int i = s_registry.Count - 1; i >= 0; i--)
            {
                if (!s_registry[i].TryGetTarget(out CallerSlot? slot))
                {
                    // The thread is gone, and a gone thread is inside no scope.
                    s_registry.RemoveAt(i);
                    continue;
                }

                long[] ids = slot.Ids;
                for (int d = 0; d < ids.Length; d++)
                {
                    if (CallerSlot.GenerationOf(Volatile.Read(ref ids[d])) == generation.UniqueId)
                    {
                        return true;
                    }
                }
            }
        }

        return false;
    }

    /// <summary>
    /// Waits until no thread is inside <paramref name="generation"/>, which must no longer be reachable as
    /// the current generation. Returns false if <paramref name="timeout"/> passed first.
    /// </summary>
    /// <remarks><see cref="Timeout.InfiniteTimeSpan"/> waits for as long as it takes.</remarks>
    public static bool WaitUntilUnused(LibraryGeneration generation, TimeSpan timeout)
    {
        Interlocked.MemoryBarrierProcessWide();
        bool forever = timeout == Timeout.InfiniteTimeSpan;
        long deadline = forever ? long.MaxValue : Environment.TickCount64 + (long)Math.Max(0, timeout.TotalMilliseconds);
        var spinner = default(SpinWait);
        while (IsInUse(generation))
        {
            if (Environment.TickCount64 > deadline)
            {
                return false;
            }

            spinner.SpinOnce(sleep1Threshold: 20);
        }

        return true;
    }

    /// <summary>True when the calling thread itself has a scope open on <paramref name="generation"/>: waiting for it to drain would wait for ourselves.</summary>
    public static bool IsHeldByCurrentThread(LibraryGeneration generation)
    {
        if (t_slot is not { } slot)
        {
            return false;
        }

        for (int d = 0; d < slot.Depth && d < MaxDepth; d++)
        {
            if (CallerSlot.GenerationOf(slot.Ids[d]) == generation.UniqueId)
            {
                return true;
            }
        }

        return false;
    }

    private static CallerSlot Register()
    {
        var slot = new CallerSlot();
        lock (s_registryLock)
        {
            s_registry.Add(new WeakReference<CallerSlot>(slot));
        }

        t_slot = slot;
        return slot;
    }
}
