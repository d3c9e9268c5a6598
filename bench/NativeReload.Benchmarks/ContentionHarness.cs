using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NativeReload.Reloading;

namespace NativeReload.Benchmarks;

/// <summary>
/// Two threads calling at once versus one thread alone: if a call path writes a cache line that another thread also
/// writes, the two threads fight over it and each one's throughput drops. Each variant runs for a fixed time, alone
/// and then on two threads started together, in interleaved rounds; the result is the ns per call of the slower
/// thread, best round of each variant (the machine may be shared: the best round is the least disturbed).
/// A plain Stopwatch harness (BenchmarkDotNet runs one thread per benchmark).
/// </summary>
internal static unsafe class ContentionHarness
{
    public sealed record Result(string Name, string Description, double OneThreadNs, double TwoThreadsNs, bool IsControl)
    {
        /// <summary>Slowdown of each of two threads over one thread alone (1.0 = no interference).</summary>
        public double Slowdown => TwoThreadsNs / OneThreadNs;
    }

    private sealed class Shared
    {
        public long LeaseCount;
    }

    private enum Variant
    {
        RawPointer,
        Concurrent,
        SafePoint,
        SharedCounterLease,
    }

    private static volatile bool s_stop;
    private static delegate* unmanaged[Cdecl]<int, int, int> s_add;
    private static ReloadableLibrary<GreeterTable> s_library = null!;
    private static readonly Shared s_shared = new();

    public static IReadOnlyList<Result> Run(TimeSpan runTime, int rounds, Action<string> log)
    {
        string path = Repo.Sample;
        nint handle = NativeLibrary.Load(path);
        s_add = (delegate* unmanaged[Cdecl]<int, int, int>)NativeLibrary.GetExport(handle, "add");
        s_library = new ReloadableLibrary<GreeterTable>(
            path, GreeterTable.Bind, new ReloadableLibraryOptions { WatchForChanges = false });
        try
        {
            (Variant Variant, string Description, bool Control)[] variants =
            [
                (Variant.RawPointer, "raw delegate* unmanaged (control: nothing shared)", true),
                (Variant.Concurrent, "concurrent: using Enter(); Exports.Add", false),
                (Variant.SafePoint, "safe point: Current.Exports.Add", false),
                (Variant.SharedCounterLease, "one shared Interlocked counter per call (what Enter() avoids)", true),
            ];
            foreach ((Variant variant, _, _) in variants)
            {
                RunOnce(variant, TimeSpan.FromMilliseconds(50), 1); // warm up: JIT, thread slots
                RunOnce(variant, TimeSpan.FromMilliseconds(50), 2);
            }

            // Interleaved rounds, so that load from elsewhere on the machine hits every variant alike; the best round
            // of each (the one least disturbed by other processes) estimates the cost of the call path itself.
            var one = variants.Select(_ => new List<double>()).ToArray();
            var two = variants.Select(_ => new List<double>()).ToArray();
            for (int r = 0; r < rounds; r++)
            {
                for (int v = 0; v < variants.Length; v++)
                {
                    one[v].Add(RunOnce(variants[v].Variant, runTime, 1));
                    two[v].Add(RunOnce(variants[v].Variant, runTime, 2));
                }
            }

            var results = new List<Result>();
            for (int v = 0; v < variants.Length; v++)
            {
                var result = new Result(variants[v].Variant.ToString(), variants[v].Description, one[v].Min(), two[v].Min(), variants[v].Control);
                log($"  contention {result.Name}: 1 thread {result.OneThreadNs:F2} ns/call, each of 2 threads {result.TwoThreadsNs:F2} ns/call, x{result.Slowdown:F2}");
                results.Add(result);
            }

            return results;
        }
        finally
        {
            s_library.Dispose();
            NativeLibrary.Free(handle);
        }
    }

    /// <summary>Runs <paramref name="threads"/> threads for <paramref name="runTime"/>; returns the ns per call of the slowest thread.</summary>
    private static double RunOnce(Variant variant, TimeSpan runTime, int threads)
    {
        s_stop = false;
        var calls = new long[threads];
        var elapsed = new double[threads];
        using var ready = new Barrier(threads + 1);
        var workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            int index = t;
            workers[t] = new Thread(() =>
            {
                ready.SignalAndWait();
                long started = Stopwatch.GetTimestamp();
                calls[index] = Loop(variant);
                elapsed[index] = Stopwatch.GetElapsedTime(started).TotalNanoseconds;
            })
            { IsBackground = true, Name = $"contention {index}" };
            workers[t].Start();
        }

        ready.SignalAndWait();
        Thread.Sleep(runTime);
        s_stop = true;
        foreach (Thread worker in workers)
        {
            worker.Join();
        }

        double slowest = 0;
        for (int t = 0; t < threads; t++)
        {
            slowest = Math.Max(slowest, elapsed[t] / calls[t]);
        }

        return slowest;
    }

    private static long Loop(Variant variant) => variant switch
    {
        Variant.RawPointer => LoopRaw(),
        Variant.Concurrent => LoopConcurrent(),
        Variant.SafePoint => LoopSafePoint(),
        _ => LoopSharedLease(),
    };

    // Each loop checks the stop flag (read-only while running: no write sharing) every 1024 calls.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long LoopRaw()
    {
        long n = 0;
        int sink = 0;
        while (!s_stop)
        {
            for (int i = 0; i < 1024; i++)
            {
                sink += s_add(i, 1);
            }

            n += 1024;
        }

        GC.KeepAlive(sink);
        return n;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long LoopConcurrent()
    {
        ReloadableLibrary<GreeterTable> library = s_library;
        long n = 0;
        int sink = 0;
        while (!s_stop)
        {
            for (int i = 0; i < 1024; i++)
            {
                using var scope = library.Enter();
                sink += scope.Exports.Add(i, 1);
            }

            n += 1024;
        }

        GC.KeepAlive(sink);
        return n;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long LoopSafePoint()
    {
        ReloadableLibrary<GreeterTable> library = s_library;
        long n = 0;
        int sink = 0;
        while (!s_stop)
        {
            for (int i = 0; i < 1024; i++)
            {
                sink += library.Current.Exports.Add(i, 1);
            }

            n += 1024;
        }

        GC.KeepAlive(sink);
        return n;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long LoopSharedLease()
    {
        Shared shared = s_shared;
        long n = 0;
        int sink = 0;
        while (!s_stop)
        {
            for (int i = 0; i < 1024; i++)
            {
                Interlocked.Increment(ref shared.LeaseCount);
                sink += s_add(i, 1);
                Interlocked.Decrement(ref shared.LeaseCount);
            }

            n += 1024;
        }

        GC.KeepAlive(sink);
        return n;
    }
}
