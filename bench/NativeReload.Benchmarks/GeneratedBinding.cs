using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using NativeReload.Binding;
using NativeReload.Calling;
using NativeReload.Reloading;

namespace NativeReload.Benchmarks;

/// <summary>The greeter declared for the source generator: the same exports as <see cref="GreeterTable"/>, no unsafe code.</summary>
[NativeExports]
internal sealed partial class GeneratedGreeter
{
    [Export("add")]
    public partial int Add(int a, int b);

    [Export("get_message")]
    public partial string GetMessage();

    [Export("get_version")]
    public partial int GetVersion();
}

/// <summary>
/// Issue 13's cost target: a call through the generated binding against the same call through the hand-written
/// <c>delegate* unmanaged</c> table (<see cref="GreeterTable"/>), in both models, ratio ≤ 1.05×. Interleaved like
/// <see cref="InterleavedCallCost"/> (shuffled batches, best and median per path), so load from other work on this
/// shared machine falls on both sides alike. <c>dotnet run --project bench/NativeReload.Benchmarks -c Release -- --generated</c>.
/// </summary>
internal static unsafe class GeneratedCallCost
{
    public sealed record Row(string Call, double HandBestNs, double HandMedianNs, double GeneratedBestNs, double GeneratedMedianNs)
    {
        public double MedianRatio => GeneratedMedianNs / HandMedianNs;

        public double BestRatio => GeneratedBestNs / HandBestNs;
    }

    private const int Batch = 4096;
    private const double Target = 1.05;
    private static ReloadableLibrary<GreeterTable> s_hand = null!;
    private static ReloadableLibrary<GeneratedGreeter> s_generated = null!;

    public static IReadOnlyList<Row> Run(int rounds, Action<string> log)
    {
        var options = new ReloadableLibraryOptions { ApplyMode = ApplyMode.AtSafePoint, WatchForChanges = false };
        s_hand = new ReloadableLibrary<GreeterTable>(Repo.Sample, GreeterTable.Bind, options);
        s_generated = GeneratedGreeter.Load(Repo.Sample, options);
        try
        {
            if (AddHandCurrent(1) != AddGeneratedCurrent(1) || MessageHandScope(1) != MessageGeneratedScope(1))
            {
                throw new InvalidOperationException("the generated and hand-written bindings disagree");
            }

            (string Call, Func<int, long> Hand, Func<int, long> Generated)[] pairs =
            [
                ("add: safe point, Current.Exports.Add", AddHandCurrent, AddGeneratedCurrent),
                ("add: safe point, frame of 64 via the cached table", AddHandFrame, AddGeneratedFrame),
                ("add: concurrent, using Enter(); Exports.Add", AddHandScope, AddGeneratedScope),
                ("get_message + decode: safe point", MessageHandCurrent, MessageGeneratedCurrent),
                ("get_message + decode: concurrent, Enter()", MessageHandScope, MessageGeneratedScope),
            ];
            var loops = pairs.SelectMany(p => new[] { p.Hand, p.Generated }).ToArray();
            var samples = loops.Select(_ => new List<double>(rounds)).ToArray();
            int[] order = [.. Enumerable.Range(0, loops.Length)];
            for (int warm = 0; warm < 30; warm++)
            {
                foreach (Func<int, long> loop in loops)
                {
                    loop(Batch);
                }
            }

            for (int r = 0; r < rounds; r++)
            {
                Random.Shared.Shuffle(order);
                foreach (int i in order)
                {
                    long started = Stopwatch.GetTimestamp();
                    loops[i](Batch);
                    samples[i].Add(Stopwatch.GetElapsedTime(started).TotalNanoseconds / Batch);
                }
            }

            var rows = pairs.Select((p, i) => new Row(p.Call, samples[2 * i].Min(), Median(samples[2 * i]), samples[(2 * i) + 1].Min(), Median(samples[(2 * i) + 1]))).ToList();
            foreach (Row row in rows)
            {
                log($"  {row.Call}: hand {row.HandMedianNs:F2} ns, generated {row.GeneratedMedianNs:F2} ns (median ratio {row.MedianRatio:F3}, best {row.BestRatio:F3})");
            }

            return rows;
        }
        finally
        {
            s_generated.Dispose();
            s_hand.Dispose();
        }
    }

    public static string Render(IReadOnlyList<Row> rows, int rounds)
    {
        var sb = new StringBuilder();
        sb.AppendLine("## Generated bindings against the hand-written table (issue 13)");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Interleaved, {rounds} rounds × {Batch} calls per path; target: generated / hand-written ≤ {Target:F2}× (median).");
        sb.AppendLine();
        sb.AppendLine("| Call | Hand-written median (ns) | Generated median (ns) | Ratio (median) | Ratio (best) | Target |");
        sb.AppendLine("|---|---:|---:|---:|---:|---|");
        foreach (Row r in rows)
        {
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Call} | {r.HandMedianNs:F2} | {r.GeneratedMedianNs:F2} | {r.MedianRatio:F3}× | {r.BestRatio:F3}× | {(r.MedianRatio <= Target ? "met" : "NOT met")} |");
        }

        return sb.ToString();
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    // Pairs of loops with identical shapes; only the binding differs.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long AddHandCurrent(int n)
    {
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            s += s_hand.Current.Exports.Add(40, i);
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long AddGeneratedCurrent(int n)
    {
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            s += s_generated.Current.Exports.Add(40, i);
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long AddHandFrame(int n)
    {
        long s = 0;
        for (int frame = 0; frame < n / CallBenchmarks.Frame; frame++)
        {
            s_hand.ApplyPendingReload();
            GreeterTable exports = s_hand.Current.Exports;
            for (int i = 0; i < CallBenchmarks.Frame; i++)
            {
                s += exports.Add(40, i);
            }
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long AddGeneratedFrame(int n)
    {
        long s = 0;
        for (int frame = 0; frame < n / CallBenchmarks.Frame; frame++)
        {
            s_generated.ApplyPendingReload();
            GeneratedGreeter exports = s_generated.Current.Exports;
            for (int i = 0; i < CallBenchmarks.Frame; i++)
            {
                s += exports.Add(40, i);
            }
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long AddHandScope(int n)
    {
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            using var scope = s_hand.Enter();
            s += scope.Exports.Add(40, i);
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long AddGeneratedScope(int n)
    {
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            using var scope = s_generated.Enter();
            s += scope.Exports.Add(40, i);
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long MessageHandCurrent(int n)
    {
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            s += NativeUtf8.Decode(s_hand.Current.Exports.GetMessage()).Length;
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long MessageGeneratedCurrent(int n)
    {
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            s += s_generated.Current.Exports.GetMessage().Length;
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long MessageHandScope(int n)
    {
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            using var scope = s_hand.Enter();
            s += NativeUtf8.Decode(scope.Exports.GetMessage()).Length;
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long MessageGeneratedScope(int n)
    {
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            using var scope = s_generated.Enter();
            s += scope.Exports.GetMessage().Length;
        }

        return s;
    }
}

/// <summary>The same comparison as BenchmarkDotNet rows (<c>-- --generated-bdn</c>): baseline the hand-written table.</summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public unsafe class GeneratedCallBenchmarks
{
    private ReloadableLibrary<GreeterTable> _hand = null!;
    private ReloadableLibrary<GeneratedGreeter> _generated = null!;
    private int _a = 40;
    private int _b = 2;

    [GlobalSetup]
    public void Setup()
    {
        var options = new ReloadableLibraryOptions { ApplyMode = ApplyMode.AtSafePoint, WatchForChanges = false };
        _hand = new ReloadableLibrary<GreeterTable>(Repo.Sample, GreeterTable.Bind, options);
        _generated = GeneratedGreeter.Load(Repo.Sample, options);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _generated.Dispose();
        _hand.Dispose();
    }

    [Benchmark(Baseline = true, Description = "hand-written table: Current.Exports.Add")]
    [BenchmarkCategory("add, safe point")]
    public int Add_Hand_SafePoint() => _hand.Current.Exports.Add(_a, _b);

    [Benchmark(Description = "generated: Current.Exports.Add")]
    [BenchmarkCategory("add, safe point")]
    public int Add_Generated_SafePoint() => _generated.Current.Exports.Add(_a, _b);

    [Benchmark(Baseline = true, Description = "hand-written table: using Enter(); Exports.Add")]
    [BenchmarkCategory("add, concurrent")]
    public int Add_Hand_Concurrent()
    {
        using var scope = _hand.Enter();
        return scope.Exports.Add(_a, _b);
    }

    [Benchmark(Description = "generated: using Enter(); Exports.Add")]
    [BenchmarkCategory("add, concurrent")]
    public int Add_Generated_Concurrent()
    {
        using var scope = _generated.Enter();
        return scope.Exports.Add(_a, _b);
    }

    [Benchmark(Baseline = true, Description = "hand-written table: NativeUtf8.Decode(GetMessage())")]
    [BenchmarkCategory("get_message, safe point")]
    public string Message_Hand_SafePoint() => NativeUtf8.Decode(_hand.Current.Exports.GetMessage());

    [Benchmark(Description = "generated: GetMessage()")]
    [BenchmarkCategory("get_message, safe point")]
    public string Message_Generated_SafePoint() => _generated.Current.Exports.GetMessage();
}
