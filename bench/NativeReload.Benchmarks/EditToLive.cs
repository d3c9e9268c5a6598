using System.Diagnostics;
using System.Globalization;
using System.Text;
using NativeReload.Loading;

namespace NativeReload.Benchmarks;

/// <summary>
/// Issue 6's figure: from "the user saved greeter.c" to "the host printed the new message", with
/// <c>nativereload watch</c> rebuilding a private copy of the C sample with cmake, against the time of the same cmake
/// build alone (edit, then <c>cmake --build</c>, no host). Same machine, same run, same project.
/// </summary>
internal static class EditToLive
{
    public sealed record Result(int Edits, double[] EditToLiveMs, double[] BuildAloneMs, int Missed);

    public static Result? Measure(int edits, Action<string> log)
    {
        string host = Path.Combine(Repo.Root, "artifacts", "nativereload", OperatingSystem.IsWindows() ? "nativereload.exe" : "nativereload");
        if (!File.Exists(host))
        {
            log($"edit-to-live skipped: {host} is missing (./build.sh publishes it)");
            return null;
        }

        string root = Directory.CreateTempSubdirectory("nativereload-edit-to-live-").FullName;
        try
        {
            string source = Path.Combine(root, "greeter.c");
            string build = Path.Combine(root, "build");
            Directory.CreateDirectory(Path.Combine(root, "include"));
            File.Copy(Path.Combine(Repo.Root, "native", "include", "nativereload_export.h"), Path.Combine(root, "include", "nativereload_export.h"));
            string original = File.ReadAllText(Path.Combine(Repo.Root, "native", "greeter", "greeter.c"));
            File.WriteAllText(Path.Combine(root, "CMakeLists.txt"), """
                cmake_minimum_required(VERSION 3.20)
                project(sample C)
                add_library(greeter SHARED greeter.c)
                target_include_directories(greeter PRIVATE include)
                set_target_properties(greeter PROPERTIES C_VISIBILITY_PRESET hidden
                  LIBRARY_OUTPUT_DIRECTORY "$<1:${CMAKE_BINARY_DIR}/lib>" RUNTIME_OUTPUT_DIRECTORY "$<1:${CMAKE_BINARY_DIR}/lib>")
                """);
            void Save(string message) => File.WriteAllText(source, original.Replace("\"Hello from C!\"", $"\"{message}\"", StringComparison.Ordinal));
            Save("start");
            Run("cmake", "-S", root, "-B", build, "-DCMAKE_BUILD_TYPE=Release");
            Run("cmake", "--build", build, "--config", "Release");

            // The build alone: what the compiler and linker cost, without the host.
            var alone = new List<double>();
            for (int i = 0; i < edits; i++)
            {
                Thread.Sleep(300); // the same pause as between the live edits below, so both start from the same idle machine
                Save($"alone {i}");
                var watch = Stopwatch.StartNew();
                Run("cmake", "--build", build, "--config", "Release");
                alone.Add(watch.Elapsed.TotalMilliseconds);
            }

            // The same edits with the host watching: save, then wait for the new message on its stdout.
            string library = Path.Combine(build, "lib", LibraryNaming.FileName("greeter"));
            var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string a in new[] { "watch", library, "--build", $"cmake --build \"{build}\" --config Release", "--source", root, "--every", "1s" })
            {
                start.ArgumentList.Add(a);
            }

            var seen = new Dictionary<string, long>();
            var gate = new Lock();
            using var process = new Process { StartInfo = start };
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is { } line)
                {
                    lock (gate)
                    {
                        seen.TryAdd(line, Stopwatch.GetTimestamp());
                    }
                }
            };
            process.ErrorDataReceived += (_, _) => { };
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var live = new List<double>();
            int missed = 0;
            try
            {
                if (!WaitFor(seen, gate, $"message: alone {edits - 1}", TimeSpan.FromSeconds(60), out _))
                {
                    log("edit-to-live: the host did not start");
                    return null;
                }

                for (int i = 0; i < edits; i++)
                {
                    Thread.Sleep(300); // a person does not save twice within a build
                    long saved = Stopwatch.GetTimestamp();
                    Save($"live {i}");
                    if (WaitFor(seen, gate, $"message: live {i}", TimeSpan.FromSeconds(30), out long shown))
                    {
                        live.Add(Stopwatch.GetElapsedTime(saved, shown).TotalMilliseconds);
                    }
                    else
                    {
                        missed++;
                    }
                }
            }
            finally
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
            }

            return new Result(edits, [.. live], [.. alone], missed);
        }
        finally
        {
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

    public static string Render(Result r)
    {
        double liveP50 = Percentile(r.EditToLiveMs, 50), liveP90 = Percentile(r.EditToLiveMs, 90);
        double aloneP50 = Percentile(r.BuildAloneMs, 50), aloneP90 = Percentile(r.BuildAloneMs, 90);
        double overhead = liveP50 - aloneP50;
        var sb = new StringBuilder();
        sb.AppendLine("## Edit to live (issue 6): save greeter.c → the new message, with `nativereload watch`");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{r.Edits} edits of a private copy of the C sample, rebuilt by `nativereload watch --build \"cmake --build …\"`");
        sb.AppendLine("(default 30 ms debounce), against the same `cmake --build` after the same kind of edit without the host.");
        sb.AppendLine();
        sb.AppendLine("| | p50 (ms) | p90 (ms) |");
        sb.AppendLine("|---|---:|---:|");
        sb.AppendLine(CultureInfo.InvariantCulture, $"| save → new message on stdout (`watch`) | {liveP50:F0} | {liveP90:F0} |");
        sb.AppendLine(CultureInfo.InvariantCulture, $"| `cmake --build` alone | {aloneP50:F0} | {aloneP90:F0} |");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture,
            $"Target: within 100 ms of the build's own time. Measured: the median edit-to-live is {overhead:F0} ms above the median build alone: **{(overhead <= 100 ? "met" : "NOT met")}**{(r.Missed > 0 ? $" ({r.Missed} edits never showed)" : "")}.");
        return sb.ToString();
    }

    private static double Percentile(double[] values, double p)
    {
        if (values.Length == 0)
        {
            return double.NaN;
        }

        double[] sorted = [.. values.Order()];
        double rank = p / 100 * (sorted.Length - 1);
        int low = (int)Math.Floor(rank);
        int high = Math.Min(low + 1, sorted.Length - 1);
        return sorted[low] + ((sorted[high] - sorted[low]) * (rank - low));
    }

    private static bool WaitFor(Dictionary<string, long> seen, Lock gate, string line, TimeSpan timeout, out long at)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (Environment.TickCount64 < deadline)
        {
            lock (gate)
            {
                if (seen.TryGetValue(line, out at))
                {
                    return true;
                }
            }

            Thread.Sleep(1);
        }

        at = 0;
        return false;
    }

    private static void Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        string errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed: {output.Result}{errors}");
        }
    }
}
