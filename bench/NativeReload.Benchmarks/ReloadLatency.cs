using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using NativeReload.Loading;
using NativeReload.Reloading;

namespace NativeReload.Benchmarks;

/// <summary>
/// Reload latency: from the moment a complete new file is in place to the first call that answers with the new code.
/// A caller thread polls <c>get_version</c> in a tight loop and stamps the first answer from the new build; the clock
/// starts when the replacing write returns (the rename, or the close of an in-place write). Builds alternate between
/// greeter_v1 and greeter_v2, so every replacement changes the content.
/// </summary>
internal static unsafe class ReloadLatency
{
    public sealed record Result(string Name, string Description, IReadOnlyList<double> SamplesMs, int Missed, double? MeanLoadMs)
    {
        public double P50 => Percentile(50);

        public double P99 => Percentile(99);

        public double Mean => SamplesMs.Count == 0 ? double.NaN : SamplesMs.Average();

        public double Max => SamplesMs.Count == 0 ? double.NaN : SamplesMs.Max();

        /// <summary>Nearest-rank percentile.</summary>
        public double Percentile(double p)
        {
            if (SamplesMs.Count == 0)
            {
                return double.NaN;
            }

            double[] sorted = [.. SamplesMs.Order()];
            int rank = (int)Math.Ceiling(p / 100 * sorted.Length);
            return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
        }
    }

    internal enum Replace
    {
        Rename,
        InPlace,
    }

    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(5);

    public static Result MeasureNativeReload(int samples, bool inPlace, Action<string> log)
    {
        Replace how = inPlace ? Replace.InPlace : Replace.Rename;
        using var dir = new Scratch();
        byte[][] builds = [File.ReadAllBytes(Repo.Fixture("greeter_v1")), File.ReadAllBytes(Repo.Fixture("greeter_v2"))];
        dir.Put(builds[0], Replace.Rename);
        var options = new ReloadableLibraryOptions { ApplyMode = ApplyMode.Immediately, WatchForChanges = true };
        using var library = new ReloadableLibrary<GreeterTable>(dir.LibraryPath, GreeterTable.Bind, options);
        var loads = new ConcurrentQueue<double>();
        library.Reloaded += (_, e) => loads.Enqueue(e.LoadDuration.TotalMilliseconds);
        var failures = new ConcurrentQueue<string>();
        library.ReloadFailed += (_, e) => failures.Enqueue(e.Detail);

        using var probe = Probe.Calling(() =>
        {
            using var scope = library.Enter();
            return scope.Exports.GetVersion();
        });
        probe.WaitFor(1, s_timeout);

        (List<double> latencies, int missed) = Sample(samples, dir, builds, how, probe, gapMs: (10, 30));
        foreach (string failure in failures)
        {
            log($"  reload failed during the latency run: {failure}");
        }

        string description = inPlace
            ? $"NativeReload, watcher, in-place truncate+write (quiet period {options.QuietPeriod.TotalMilliseconds:F0} ms)"
            : $"NativeReload, watcher, rename over the file (debounce {options.RenameDebounce.TotalMilliseconds:F0} ms)";
        return new Result(inPlace ? "InPlace" : "Rename", description, latencies, missed, loads.IsEmpty ? null : loads.Average());
    }

    /// <summary>
    /// The seed's loop: once a second, compare the file's mtime with the last one seen; when it differs, free the
    /// library and load it again; call through <c>NativeLibrary.GetExport</c>. Each replacement happens at a random
    /// phase of that second, so the mean is about half the interval.
    /// </summary>
    public static Result MeasureSeed(int samples)
    {
        using var dir = new Scratch();
        byte[][] builds = [File.ReadAllBytes(Repo.Fixture("greeter_v1")), File.ReadAllBytes(Repo.Fixture("greeter_v2"))];
        dir.Put(builds[0], Replace.Rename);
        var loads = new ConcurrentQueue<double>();
        using var seed = new Probe(SeedLoop);
        (List<double> latencies, int missed) = Sample(samples, dir, builds, Replace.Rename, seed, gapMs: (0, 1000));
        return new Result("Seed", "seed: 1 s polling loop, mtime compare, Free + Load, GetExport per call", latencies, missed, loads.IsEmpty ? null : loads.Average());

        int SeedLoop(Probe probe)
        {
            nint handle = NativeLibrary.Load(dir.LibraryPath);
            DateTime lastWrite = File.GetLastWriteTimeUtc(dir.LibraryPath);
            try
            {
                while (!probe.Stopping)
                {
                    DateTime write = File.GetLastWriteTimeUtc(dir.LibraryPath);
                    if (write != lastWrite)
                    {
                        long started = Stopwatch.GetTimestamp();
                        lastWrite = write;
                        NativeLibrary.Free(handle);
                        handle = NativeLibrary.Load(dir.LibraryPath);
                        loads.Enqueue(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    }

                    probe.Observe(((delegate* unmanaged[Cdecl]<int>)NativeLibrary.GetExport(handle, "get_version"))());
                    probe.Sleep(TimeSpan.FromSeconds(1));
                }
            }
            finally
            {
                NativeLibrary.Free(handle);
            }

            return 0;
        }
    }

    private static (List<double> Latencies, int Missed) Sample(int samples, Scratch dir, byte[][] builds, Replace how, Probe probe, (int Min, int Max) gapMs)
    {
        var latencies = new List<double>(samples);
        int missed = 0;
        for (int i = 0; i < samples; i++)
        {
            int version = i % 2 == 0 ? 2 : 1;
            Thread.Sleep(Random.Shared.Next(gapMs.Min, gapMs.Max + 1));
            long placed = dir.Put(builds[version - 1], how);
            if (probe.WaitFor(version, s_timeout) is { } seenAt)
            {
                latencies.Add(Stopwatch.GetElapsedTime(placed, Math.Max(seenAt, placed)).TotalMilliseconds);
            }
            else
            {
                missed++;
            }
        }

        return (latencies, missed);
    }

    /// <summary>A thread that calls <c>get_version</c> and stamps each change of the answer.</summary>
    internal sealed class Probe : IDisposable
    {
        private readonly Thread _thread;
        private readonly Func<Probe, int> _body;
        private readonly ManualResetEventSlim _stop = new();
        private long _seenAt;
        private int _seenVersion;

        public Probe(Func<Probe, int> body)
        {
            _body = body;
            _thread = new Thread(() => _body(this)) { IsBackground = true, Name = "latency probe" };
            _thread.Start();
        }

        public bool Stopping => _stop.IsSet;

        /// <summary>A probe that calls <paramref name="call"/> in a tight loop.</summary>
        public static Probe Calling(Func<int> call) => new(probe =>
        {
            while (!probe.Stopping)
            {
                probe.Observe(call());
                Thread.Yield(); // poll continuously, but let a reload thread run on a busy machine
            }

            return 0;
        });

        public void Sleep(TimeSpan time) => _stop.Wait(time);

        public void Observe(int version)
        {
            if (version != _seenVersion)
            {
                Volatile.Write(ref _seenAt, Stopwatch.GetTimestamp());
                Volatile.Write(ref _seenVersion, version);
            }
        }

        /// <summary>Waits until the probe answers <paramref name="version"/>; returns when it first did, or null on timeout.</summary>
        public long? WaitFor(int version, TimeSpan timeout)
        {
            long deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
            while (Volatile.Read(ref _seenVersion) != version)
            {
                if (Stopwatch.GetTimestamp() > deadline)
                {
                    return null;
                }

                Thread.Sleep(1);
            }

            return Volatile.Read(ref _seenAt);
        }

        public void Dispose()
        {
            _stop.Set();
            _thread.Join();
            _stop.Dispose();
        }
    }

    /// <summary>A private directory holding the library path that the harness replaces.</summary>
    internal sealed class Scratch : IDisposable
    {
        private readonly string _path = Directory.CreateTempSubdirectory("nativereload-bench-").FullName;

        public string LibraryPath => Path.Combine(_path, LibraryNaming.FileName("target"));

        /// <summary>Replaces the library; returns the timestamp at which the complete new file was in place.</summary>
        public long Put(byte[] content, Replace how)
        {
            if (how == Replace.Rename)
            {
                // Like lld and mold: write a temporary file beside the output, then rename it over the output.
                string temporary = LibraryPath + ".tmp" + Guid.NewGuid().ToString("N");
                File.WriteAllBytes(temporary, content);
                File.Move(temporary, LibraryPath, overwrite: true);
                return Stopwatch.GetTimestamp();
            }

            // Like cp: truncate the existing file and write the new bytes into it (same inode).
            using (var stream = new FileStream(LibraryPath, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
            {
                stream.SetLength(0);
                stream.Write(content);
            }

            return Stopwatch.GetTimestamp();
        }

        public void Dispose()
        {
            try
            {
                Directory.Delete(_path, recursive: true);
            }
            catch (IOException)
            {
                // best effort
            }
        }
    }
}
