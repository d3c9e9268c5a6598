using System.Diagnostics;
using NativeReload.Reloading;

namespace NativeReload.Loading;

/// <summary>
/// Refuses to load another generation when the process is close to the kernel's limit on memory mappings
/// (<c>vm.max_map_count</c>, 65,530 by default on Linux). A library that cannot be unmapped (C++ <c>thread_local</c>,
/// Rust <c>thread_local!</c>, <c>STB_GNU_UNIQUE</c>, <c>RTLD_NODELETE</c>) keeps about five mappings per reload; at the
/// limit the next <c>mmap</c> fails anywhere in the process (the runtime, the GC, malloc) and the process dies. Refusing
/// a reload a little before that keeps the last good generation serving instead.
/// </summary>
/// <remarks>Checked on every load, from <see cref="GenerationLoader"/>. Counting means one pass over
/// <c>/proc/self/maps</c>, which the kernel generates on each read: about 6 ms with a thousand libraries loaded, so it is
/// counted again only when the last count is older than a second or when that count plus <see cref="Headroom"/> per
/// load since could reach the threshold (then every load counts). Where the OS does not say (not Linux, /proc
/// unreadable) nothing is refused.</remarks>
internal sealed class MappingBudget
{
    /// <summary>Mappings one more generation may need (its segments, relocations, the loader's own), with room to spare.</summary>
    public const long Headroom = 64;

    /// <summary>Share of the limit the process may use before reloads are refused.</summary>
    public const double UsableShare = 0.9;

    private static readonly MappingBudget s_process = new(MappingInspector.MappingLimit, MappingInspector.CountMappings);
    private static readonly AsyncLocal<MappingBudget?> s_override = new();

    private readonly Func<long?> _limit;
    private readonly Func<long?> _count;
    private readonly TimeSpan _recountAfter;
    private readonly Lock _gate = new();
    private long _countedAt;   // Stopwatch timestamp of the last count (0: never)
    private long _lastCount;
    private long _lastLimit;
    private long _loadsSince;  // loads let through since that count

    /// <param name="limit">Reads the limit (null: unknown).</param>
    /// <param name="count">Counts the process's mappings now (null: unknown).</param>
    /// <param name="recountAfter">Age after which a count is taken again even far from the limit; default 1 s.</param>
    internal MappingBudget(Func<long?> limit, Func<long?> count, TimeSpan? recountAfter = null)
    {
        _limit = limit;
        _count = count;
        _recountAfter = recountAfter ?? TimeSpan.FromSeconds(1);
    }

    /// <summary>The budget in force on this thread: the process's, or the one a test put in place.</summary>
    public static MappingBudget Current => s_override.Value ?? s_process;

    /// <summary>
    /// Test seam: makes <paramref name="budget"/> the one in force for the calling thread (and the work it starts with
    /// its execution context) until the returned scope is disposed, so a test can play a near-exhausted process.
    /// </summary>
    internal static IDisposable Override(MappingBudget budget)
    {
        MappingBudget? previous = s_override.Value;
        s_override.Value = budget;
        return new Restore(previous);
    }

    /// <summary>Throws when loading one more generation of <paramref name="filePath"/> could exhaust the mappings.</summary>
    /// <exception cref="LibraryLoadException">The process is near <c>vm.max_map_count</c>; the message says what to do.</exception>
    public void EnsureRoomFor(string filePath)
    {
        long limit;
        long count;
        lock (_gate)
        {
            if (_countedAt != 0 && Stopwatch.GetElapsedTime(_countedAt) < _recountAfter
                && _lastCount + ((_loadsSince + 1) * Headroom) <= Allowed(_lastLimit))
            {
                _loadsSince++; // far from the limit even if every load since the count added a generation's worth
                return;
            }

            if (_limit() is not { } knownLimit || _count() is not { } knownCount)
            {
                _countedAt = 0;
                return;
            }

            (limit, count) = (knownLimit, knownCount);
            (_lastLimit, _lastCount, _countedAt, _loadsSince) = (limit, count, Stopwatch.GetTimestamp(), 1);
        }

        long allowed = Allowed(limit);
        if (count + Headroom > allowed)
        {
            throw new LibraryLoadException(filePath, ReloadFailureReason.HostError,
                $"not loaded: the process already has {count} memory mappings and vm.max_map_count is {limit}; one more " +
                $"generation could exhaust them and end the process, so reloads stop at {allowed - Headroom} and the current " +
                "generation keeps serving (libraries that cannot unload, e.g. with thread_local, keep about 5 mappings per " +
                "reload: restart the host, or raise vm.max_map_count)");
        }
    }

    private static long Allowed(long limit) => (long)(limit * UsableShare);

    private sealed class Restore(MappingBudget? previous) : IDisposable
    {
        public void Dispose() => s_override.Value = previous;
    }
}
