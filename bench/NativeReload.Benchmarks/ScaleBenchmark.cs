using System.Diagnostics;
using NativeReload.Reloading;

namespace NativeReload.Benchmarks;

/// <summary>
/// Many libraries in one host (issue 14): 1, 10, 100 and 1,000 watched copies of the greeter, each in one process run
/// after the other. Measures the time to load them all, the threads and memory they add, and the time from the last
/// file replaced (in place, like <c>cp</c>) until every library answers with its new build.
/// </summary>
internal static class ScaleBenchmark
{
    /// <summary>One size's row.</summary>
    public sealed record Row(int Libraries, double LoadMs, int ThreadsAdded, double RssAddedMb, double ManagedKbPerLibrary,
        double ReplaceMs, double AllReloadedMs, int NotReloaded, double DisposeMs, string ThreadNames, double IdleCpuPercent);

    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    /// <summary>How big and how slow /proc/self/maps was at the last size (the reload path reads it).</summary>
    public static string MapsNote { get; private set; } = "n/a";

    /// <summary>What creating one more shadow directory cost at the last size (every library creates one when it loads).</summary>
    public static string ShadowNote { get; private set; } = "n/a";

    public static IReadOnlyList<Row> Measure(IReadOnlyList<int> sizes, Action<string> log)
    {
        byte[][] builds = [File.ReadAllBytes(Repo.Fixture("greeter_v1")), File.ReadAllBytes(Repo.Fixture("greeter_v2"))];
        var rows = new List<Row>();
        foreach (int size in sizes)
        {
            rows.Add(MeasureOne(size, builds));
            Row row = rows[^1];
            log($"  {size,5} libraries: load {row.LoadMs:F0} ms, +{row.ThreadsAdded} threads, +{row.RssAddedMb:F1} MB RSS, idle CPU {row.IdleCpuPercent:F1} %, " +
                $"all reloaded {row.AllReloadedMs:F0} ms after the last replacement ({row.NotReloaded} not), dispose {row.DisposeMs:F0} ms; {MapsNote}; {ShadowNote}");
        }

        return rows;
    }

    public static string Render(IReadOnlyList<Row> rows)
    {
        var text = new System.Text.StringBuilder();
        text.AppendLine("## Many libraries in one host (issue 14)");
        text.AppendLine();
        text.AppendLine("Each size in a fresh directory tree (10 libraries per directory), one after the other in the same process;");
        text.AppendLine("threads and RSS are the process's own counts (`/proc/self/status`) before the first load and after the last.");
        text.AppendLine("\"All reloaded\": every file replaced once in place (truncate, write, close, like `cp`), clock from the last");
        text.AppendLine("replacement to the moment every library has raised `Reloaded`. \"Idle CPU\": the process's CPU time over 2 s with");
        text.AppendLine("nothing changing, i.e. the polling fallback (every library stats its file every 250 ms).");
        text.AppendLine();
        text.AppendLine("| Libraries | Load all (ms) | Per library (ms) | Threads added | RSS added (MB) | Managed heap per library (KB) | Idle CPU (% of one core) | Replacing all (ms) | All reloaded after (ms) | Not reloaded | Dispose all (ms) |");
        text.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (Row r in rows)
        {
            text.AppendLine($"| {r.Libraries} | {r.LoadMs:F0} | {r.LoadMs / r.Libraries:F2} | {r.ThreadsAdded} | {r.RssAddedMb:F1} | {r.ManagedKbPerLibrary:F1} | {r.IdleCpuPercent:F1} | {r.ReplaceMs:F0} | {r.AllReloadedMs:F0} | {r.NotReloaded} | {r.DisposeMs:F0} |");
        }

        text.AppendLine();
        text.AppendLine("Old design, recorded in issue 14 on the same machine (one thread and one watcher per library): 10 libraries → 28 threads;");
        text.AppendLine("100 → 211 threads, 40 MB; 1,000 → 1,140 threads, +160 MB, 13.3 s to load, 8.6 s until all had reloaded.");
        if (rows.Count > 0)
        {
            text.AppendLine();
            text.AppendLine($"Threads NativeReload owns after the largest size (kernel names, cut at 15 characters): {rows[^1].ThreadNames}");
            text.AppendLine("(`NativeReload inotify`: the one inotify reader; `NativeReload changes`: the one scheduler). The other threads added are");
            text.AppendLine("the runtime's (thread pool workers that ran the reloads, the timer thread of the polling fallback).");
        }

        return text.ToString();
    }

    private static Row MeasureOne(int size, byte[][] builds)
    {
        string root = Directory.CreateTempSubdirectory("nativereload-scale-").FullName;
        var libraries = new List<ReloadableLibrary<GreeterTable>>(size);
        try
        {
            string[] paths = new string[size];
            for (int i = 0; i < size; i++)
            {
                string directory = Path.Combine(root, $"d{i / 10}");
                Directory.CreateDirectory(directory);
                paths[i] = Path.Combine(directory, $"libplugin{i}.so");
                File.WriteAllBytes(paths[i], builds[0]);
            }

            Settle();
            int threadsBefore = ThreadCount();
            long rssBefore = RssBytes();
            long managedBefore = GC.GetTotalMemory(forceFullCollection: true);
            int reloaded = 0;
            var allReloaded = new ManualResetEventSlim();
            var load = Stopwatch.StartNew();
            foreach (string path in paths)
            {
                var library = new ReloadableLibrary<GreeterTable>(path, GreeterTable.Bind, new ReloadableLibraryOptions { ApplyMode = ApplyMode.Immediately });
                library.Reloaded += (_, _) =>
                {
                    if (Interlocked.Increment(ref reloaded) == size)
                    {
                        allReloaded.Set();
                    }
                };
                libraries.Add(library);
            }

            load.Stop();
            Settle();
            int threadsAdded = ThreadCount() - threadsBefore;
            double rssAdded = (RssBytes() - rssBefore) / (1024.0 * 1024.0);
            double managedPerLibrary = (GC.GetTotalMemory(forceFullCollection: true) - managedBefore) / 1024.0 / size;
            string names = NativeReloadThreadNames();
            if (File.Exists("/proc/self/maps"))
            {
                var read = Stopwatch.StartNew();
                int lines = File.ReadAllLines("/proc/self/maps").Length;
                MapsNote = $"/proc/self/maps at {size} libraries: {lines} lines, read in {read.Elapsed.TotalMilliseconds:F1} ms";
            }

            TimeSpan cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var idle = Stopwatch.StartNew();
            Thread.Sleep(2000);
            double idleCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds / idle.Elapsed.TotalMilliseconds * 100;

            var shadow = Stopwatch.StartNew();
            for (int i = 0; i < 10; i++)
            {
                ShadowCopying.ShadowCopyDirectory.Create().Dispose();
            }

            ShadowNote = $"ShadowCopyDirectory.Create + Dispose beside {size} others: {shadow.Elapsed.TotalMilliseconds / 10:F2} ms";

            var replace = Stopwatch.StartNew();
            foreach (string path in paths)
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
                stream.SetLength(0);
                stream.Write(builds[1]);
            }

            replace.Stop();
            long lastReplaced = Stopwatch.GetTimestamp();
            bool all = allReloaded.Wait(s_timeout);
            double allMs = Stopwatch.GetElapsedTime(lastReplaced).TotalMilliseconds;
            var dispose = Stopwatch.StartNew();
            foreach (ReloadableLibrary<GreeterTable> library in libraries)
            {
                library.Dispose();
            }

            dispose.Stop();
            libraries.Clear();
            return new Row(size, load.Elapsed.TotalMilliseconds, threadsAdded, rssAdded, managedPerLibrary, replace.Elapsed.TotalMilliseconds,
                all ? allMs : double.NaN, size - Volatile.Read(ref reloaded), dispose.Elapsed.TotalMilliseconds, names, idleCpu);
        }
        finally
        {
            foreach (ReloadableLibrary<GreeterTable> library in libraries)
            {
                library.Dispose();
            }

            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
                // best effort
            }
        }
    }

    private static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Thread.Sleep(300); // let timers and thread-pool threads started by the previous step go idle
    }

    private static int ThreadCount() => (int)(StatusField("Threads:") ?? Process.GetCurrentProcess().Threads.Count);

    private static long RssBytes() => (StatusField("VmRSS:") ?? (Environment.WorkingSet / 1024)) * 1024;

    private static long? StatusField(string name)
    {
        if (!File.Exists("/proc/self/status"))
        {
            return null;
        }

        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(name, StringComparison.Ordinal))
            {
                return long.Parse(line[name.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    private static string NativeReloadThreadNames()
    {
        if (!Directory.Exists("/proc/self/task"))
        {
            return "n/a";
        }

        var names = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (string task in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                string name = File.ReadAllText(Path.Combine(task, "comm")).Trim();
                if (name.StartsWith("NativeReload ", StringComparison.Ordinal)) // not the bench's own main thread (NativeReload.Be…)
                {
                    names[name] = names.GetValueOrDefault(name) + 1;
                }
            }
            catch (IOException)
            {
                // the thread ended
            }
        }

        return names.Count == 0 ? "none" : string.Join(", ", names.Select(n => $"`{n.Key}` × {n.Value}"));
    }
}
