using System.Collections.Concurrent;
using System.Diagnostics;
using NativeReload.Reloading;

namespace NativeReload.Benchmarks;

/// <summary>
/// Reload latency per tool that writes the library (issue 14): GNU ld, gold, lld and mold linking the greeter from its
/// objects, <c>cp</c> and <c>install</c> copying a built library, and a rename for reference. The clock starts when the
/// tool's process has exited (the build is done) and stops at the first call answered by the new code; a reload that
/// finished before the exit was noticed counts as 0. Tools that are not installed are skipped with the reason.
/// </summary>
internal static class LinkerLatency
{
    /// <summary>One tool's row: its samples, or why it was skipped.</summary>
    public sealed record Row(string Tool, string Writes, ReloadLatency.Result? Result, string? Skipped);

    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(5);

    public static IReadOnlyList<Row> Measure(int samples, Action<string> log)
    {
        string work = Directory.CreateTempSubdirectory("nativereload-linkers-").FullName;
        try
        {
            string source = Path.Combine(Repo.Root, "native", "greeter", "greeter.c");
            string include = Path.Combine(Repo.Root, "native", "include");
            string[] objects = new string[2];
            string[] built = new string[2];
            for (int v = 1; v <= 2; v++)
            {
                objects[v - 1] = Path.Combine(work, $"greeter_v{v}.o");
                string? error = Run(["cc", "-c", "-O2", "-fPIC", "-fvisibility=hidden", $"-I{include}", $"-DGREETER_VERSION={v}",
                    $"-DGREETER_MESSAGE=\"Hello from v{v}\"", $"-DGREETER_ADD_BIAS={v * 1000}", "-o", objects[v - 1], source]);
                if (error is not null)
                {
                    return [new Row("all", "-", null, $"cannot compile the greeter: {error}")];
                }

                built[v - 1] = Repo.Fixture($"greeter_v{v}");
            }

            var tools = new (string Name, string Writes, Func<int, string, string[]> Command)[]
            {
                ("GNU ld (bfd)", "unlink, create, write, close, chmod", (v, output) => Link("bfd", objects[v - 1], output)),
                ("gold", "unlink, create, mmap write, close", (v, output) => Link("gold", objects[v - 1], output)),
                ("lld", "temporary file, rename", (v, output) => Link("lld", objects[v - 1], output)),
                ("mold", "temporary file, rename", (v, output) => Link("mold", objects[v - 1], output)),
                ("cp", "truncate, write, close (same inode)", (v, output) => ["cp", built[v - 1], output]),
                ("install", "unlink, create, write, close, chmod", (v, output) => ["install", "-m", "755", built[v - 1], output]),
                ("mv (rename)", "rename over the file", (v, output) => ["sh", "-c", $"cp '{built[v - 1]}' '{output}.tmp' && mv -f '{output}.tmp' '{output}'"]),
            };

            var rows = new List<Row>();
            foreach ((string name, string writes, Func<int, string, string[]> command) in tools)
            {
                log($"  {name}");
                rows.Add(MeasureTool(name, writes, command, samples, log));
            }

            // The same two ways written by this process, so the clock starts at the exact moment the file is complete
            // (the close, the rename) instead of at a tool's exit.
            log("  in-process writers (clock at the close / the rename)");
            ReloadLatency.Result inPlace = ReloadLatency.MeasureNativeReload(samples, inPlace: true, log);
            rows.Add(new Row("in-process truncate+write+close", "FileStream: SetLength(0), Write, Dispose", inPlace, null));
            ReloadLatency.Result renamed = ReloadLatency.MeasureNativeReload(samples, inPlace: false, log);
            rows.Add(new Row("in-process rename", "write a temporary file, File.Move over the path", renamed, null));
            return rows;
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
                // best effort
            }
        }
    }

    public static string Render(IReadOnlyList<Row> rows, int samples)
    {
        var text = new System.Text.StringBuilder();
        text.AppendLine("## Reload latency per tool that writes the library (issue 14)");
        text.AppendLine();
        text.AppendLine($"{samples} replacements per tool, alternating greeter v1/v2, default options (quiet period 50 ms, rename debounce 5 ms).");
        text.AppendLine("Clock: from the tool's process exit (the build is done) to the first call answered by the new code;");
        text.AppendLine("a reload already done when the exit is noticed counts as 0 (the tool's own exit takes about a millisecond after its");
        text.AppendLine("close). The two in-process rows start the clock at the exact moment the file is complete (the close, the rename).");
        text.AppendLine("Targets for in-place writers (ld, gold, cp, install, the in-process close):");
        text.AppendLine("p50 ≤ 10 ms, p99 ≤ 25 ms.");
        text.AppendLine();
        text.AppendLine("| Tool | How it writes | Reloads | p50 (ms) | p99 (ms) | Mean (ms) | Max (ms) | Never seen | Target |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---|");
        foreach (Row row in rows)
        {
            if (row.Result is not { } r)
            {
                text.AppendLine($"| {row.Tool} | {row.Writes} | — | — | — | — | — | — | skipped: {row.Skipped} |");
                continue;
            }

            bool inPlace = row.Tool is "GNU ld (bfd)" or "gold" or "cp" or "install" or "in-process truncate+write+close";
            string target = inPlace
                ? (r.P50 <= 10 && r.P99 <= 25 && r.Missed == 0 ? "**met**" : "**NOT met**")
                : "(rename: unchanged)";
            text.AppendLine($"| {row.Tool} | {row.Writes} | {r.SamplesMs.Count} | {r.P50:F2} | {r.P99:F2} | {r.Mean:F2} | {r.Max:F2} | {r.Missed} | {target} |");
        }

        return text.ToString();
    }

    private static string[] Link(string linker, string obj, string output) =>
        ["cc", "-shared", $"-fuse-ld={linker}", "-o", output, obj];

    private static Row MeasureTool(string name, string writes, Func<int, string, string[]> command, int samples, Action<string> log)
    {
        using var dir = new ReloadLatency.Scratch();
        string? unavailable = Run(command(1, dir.LibraryPath));
        if (unavailable is not null)
        {
            log($"    skipped: {unavailable}");
            return new Row(name, writes, null, unavailable);
        }

        var options = new ReloadableLibraryOptions { ApplyMode = ApplyMode.Immediately };
        var recent = new RecentLog();
        using var library = new ReloadableLibrary<GreeterTable>(dir.LibraryPath, GreeterTable.Bind, options, recent);
        var failures = new ConcurrentQueue<string>();
        library.ReloadFailed += (_, e) => failures.Enqueue(e.Detail);
        unsafe
        {
            using var probe = ReloadLatency.Probe.Calling(() =>
            {
                using var scope = library.Enter();
                return scope.Exports.GetVersion();
            });
            probe.WaitFor(1, s_timeout);
            var latencies = new List<double>(samples);
            int missed = 0;
            for (int i = 0; i < samples; i++)
            {
                int version = i % 2 == 0 ? 2 : 1;
                Thread.Sleep(Random.Shared.Next(10, 31));
                if (Run(command(version, dir.LibraryPath)) is { } error)
                {
                    log($"    {name} failed: {error}");
                    missed++;
                    continue;
                }

                long done = Stopwatch.GetTimestamp();
                if (probe.WaitFor(version, s_timeout) is { } seenAt)
                {
                    latencies.Add(Stopwatch.GetElapsedTime(done, Math.Max(seenAt, done)).TotalMilliseconds);
                }
                else
                {
                    missed++;
                    log($"    v{version} never seen ({Stopwatch.GetTimestamp() * 1000.0 / Stopwatch.Frequency:F1}, placed {done * 1000.0 / Stopwatch.Frequency:F1}); the library's last log lines:");
                    foreach (string line in recent.Take())
                    {
                        log($"      {line}");
                    }
                }
            }

            foreach (string failure in failures.Distinct())
            {
                log($"    reload failed: {failure}");
            }

            var result = new ReloadLatency.Result(name, writes, latencies, missed, null);
            log($"    p50 {result.P50:F2} ms, p99 {result.P99:F2} ms, missed {missed}");
            return new Row(name, writes, result, null);
        }
    }

    /// <summary>Runs a tool to completion; null when it succeeded, else one line saying why not.</summary>
    private static string? Run(string[] command)
    {
        var start = new ProcessStartInfo(command[0]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string argument in command.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            using Process process = Process.Start(start)!;
            string stderr = process.StandardError.ReadToEnd();
            process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? null : $"{command[0]} exited with {process.ExitCode}: {stderr.Split('\n')[0].Trim()}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"{command[0]} not found ({e.Message})";
        }
    }
}
