using System.Diagnostics;
using System.Globalization;
using System.Text;
using NativeReload.Calling;
using NativeReload.Isolation;
using NativeReload.Loading;
using NativeReload.Reloading;

namespace NativeReload.Benchmarks;

/// <summary>
/// The isolated mode's cost per call next to the in-process call, measured interleaved (each round runs a batch of
/// every path in a shuffled order; the best batch estimates the undisturbed cost, the median the typical one). The
/// isolated paths include the whole round trip: frame, socket write, the worker's read, the native call, the answer.
/// </summary>
internal static unsafe class IsolatedCallCost
{
    public sealed record Result(string Method, string What, double BestNs, double MedianNs, double P99Ns);

    public sealed record Run(IReadOnlyList<Result> Results, int Rounds, double WorkerStartMs, double RestartAfterCrashMs);

    /// <summary>Measures; null (with the reason on stderr) when the published host or a fixture is missing.</summary>
    public static Run? Measure(int rounds, Action<string> log)
    {
        string cli = Path.Combine(Repo.Root, "artifacts", "nativereload", OperatingSystem.IsWindows() ? "nativereload.exe" : "nativereload");
        if (!File.Exists(cli))
        {
            Console.Error.WriteLine($"bench: {cli} is missing (./build.sh publishes it); isolated call cost skipped");
            return null;
        }

        string greeter = Repo.Sample;
        string echo = Repo.Fixture("isolation_echo");
        var options = new IsolatedLibraryOptions { Worker = IsolatedWorkerCommand.ForCli(cli), WatchForChanges = false, RequiredExports = ["get_message", "add"] };

        var started = Stopwatch.StartNew();
        using var isolated = new IsolatedLibrary(greeter, options);
        started.Stop();
        using var isolatedEcho = new IsolatedLibrary(echo, new IsolatedLibraryOptions { Worker = options.Worker, WatchForChanges = false });
        using var inProcess = new ReloadableLibrary<GreeterTable>(greeter, GreeterTable.Bind,
            new ReloadableLibraryOptions { ApplyMode = ApplyMode.AtSafePoint, WatchForChanges = false });
        byte[] input = new byte[1024];
        byte[] output = new byte[1024];
        Random.Shared.NextBytes(input);

        (string Method, string What, int Batch, Func<int, long> Loop)[] paths =
        [
            ("InProcess_Add", "int32 add(int32, int32), safe-point call", 4096, n =>
            {
                long sum = 0;
                for (int i = 0; i < n; i++)
                {
                    sum += inProcess.Current.Exports.Add(i, 1);
                }

                return sum;
            }),
            ("InProcess_Message", "const char* get_message(void), copied (StringPool)", 4096, n =>
            {
                long sum = 0;
                for (int i = 0; i < n; i++)
                {
                    sum += NativeUtf8.Decode(inProcess.Current.Exports.GetMessage()).Length;
                }

                return sum;
            }),
            ("Isolated_Add", "CallInt32(\"add\", a, b)", 256, n =>
            {
                long sum = 0;
                for (int i = 0; i < n; i++)
                {
                    sum += isolated.CallInt32("add", i, 1);
                }

                return sum;
            }),
            ("Isolated_Message", "CallString(\"get_message\")", 256, n =>
            {
                long sum = 0;
                for (int i = 0; i < n; i++)
                {
                    sum += isolated.CallString("get_message")!.Length;
                }

                return sum;
            }),
            ("Isolated_Buffer_1KiB", "CallBuffer(\"reverse_bytes\", 1 KiB in, 1 KiB out)", 256, n =>
            {
                long sum = 0;
                for (int i = 0; i < n; i++)
                {
                    sum += isolatedEcho.CallBuffer("reverse_bytes", input, output);
                }

                return sum;
            }),
        ];

        var samples = paths.Select(_ => new List<double>(rounds)).ToArray();
        int[] order = [.. Enumerable.Range(0, paths.Length)];
        for (int warm = 0; warm < 5; warm++)
        {
            foreach (var path in paths)
            {
                path.Loop(path.Batch);
            }
        }

        long sink = 0;
        for (int round = 0; round < rounds; round++)
        {
            Random.Shared.Shuffle(order);
            foreach (int index in order)
            {
                long t0 = Stopwatch.GetTimestamp();
                sink += paths[index].Loop(paths[index].Batch);
                samples[index].Add(Stopwatch.GetElapsedTime(t0).TotalNanoseconds / paths[index].Batch);
            }
        }

        GC.KeepAlive(sink);
        var results = new List<Result>();
        for (int i = 0; i < paths.Length; i++)
        {
            double[] sorted = [.. samples[i].Order()];
            results.Add(new Result(paths[i].Method, paths[i].What, sorted[0], sorted[sorted.Length / 2], sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * 0.99))]));
            log($"  {paths[i].Method}: best {sorted[0]:F1} ns, median {sorted[sorted.Length / 2]:F1} ns");
        }

        double restartMs = MeasureRestart(options, log);
        return new Run(results, rounds, started.Elapsed.TotalMilliseconds, restartMs);
    }

    /// <summary>From a crashing call to the restarted worker's first answer (crash_segv over greeter_v1).</summary>
    private static double MeasureRestart(IsolatedLibraryOptions options, Action<string> log)
    {
        string dir = Directory.CreateTempSubdirectory("nativereload-bench-").FullName;
        try
        {
            string path = Path.Combine(dir, LibraryNaming.FileName("target"));
            File.Copy(Repo.Fixture("greeter_v1"), path);
            using var library = new IsolatedLibrary(path, new IsolatedLibraryOptions { Worker = options.Worker, WatchForChanges = false, WorkerOutput = _ => { } });
            File.Copy(Repo.Fixture("crash_segv"), path + ".tmp");
            File.Move(path + ".tmp", path, overwrite: true);
            library.Reload();
            var clock = Stopwatch.StartNew();
            try
            {
                library.CallString("get_message");
            }
            catch (WorkerCrashedException)
            {
            }

            library.CallString("get_message");
            clock.Stop();
            log($"  crash to the restarted worker's first answer: {clock.Elapsed.TotalMilliseconds:F0} ms");
            return clock.Elapsed.TotalMilliseconds;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The markdown section for docs/benchmarks.md (and the --isolated run's output).</summary>
    public static string Render(Run run)
    {
        static string Ns(double ns) => ns >= 1000
            ? (ns / 1000).ToString("F1", CultureInfo.InvariantCulture) + " µs"
            : ns.ToString("F1", CultureInfo.InvariantCulture) + " ns";

        var text = new StringBuilder();
        text.AppendLine("## Isolated mode: cost per call (docs/isolation.md)");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Interleaved Stopwatch harness (`IsolatedCallCost`), {run.Rounds} rounds; per call. The isolated paths are a full round trip");
        text.AppendLine("over the worker's Unix domain socket; the in-process paths are the safe-point call of `ReloadableLibrary`.");
        text.AppendLine();
        text.AppendLine("| path | call | best | median | p99 |");
        text.AppendLine("|---|---|---:|---:|---:|");
        foreach (Result r in run.Results)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| `{r.Method}` | {r.What} | {Ns(r.BestNs)} | {Ns(r.MedianNs)} | {Ns(r.P99Ns)} |");
        }

        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Starting a worker and loading generation 1: {run.WorkerStartMs:F0} ms. A segfaulting call until the restarted worker's first answer: {run.RestartAfterCrashMs:F0} ms.");
        return text.ToString();
    }
}
