using System.Collections.Concurrent;
using System.Diagnostics;
using NativeReload.Reloading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Concurrency;

/// <summary>
/// Calls from several threads while the library is replaced and reloaded over and over: every call must land in one
/// whole, live generation. A call into freed code would crash the test host, which fails the run as well.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class ConcurrencyStressTests
{
    /// <summary>How many reloads the stress test makes (NATIVERELOAD_STRESS_RELOADS, default 1000).</summary>
    private static readonly int s_reloads =
        int.TryParse(Environment.GetEnvironmentVariable("NATIVERELOAD_STRESS_RELOADS"), out int n) && n > 0 ? n : 1000;

    /// <summary>Bounds the stress test's running time in CI; a run slower than this fails and says how far it got.</summary>
    private static readonly TimeSpan s_budget = TimeSpan.FromSeconds(50);

    private LibraryDirectory _dir = null!;
    private byte[][] _builds = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = new LibraryDirectory();
        _builds = [File.ReadAllBytes(TestPaths.Fixture("greeter_v1")), File.ReadAllBytes(TestPaths.Fixture("greeter_v2"))];
        _dir.ReplaceByRename(_builds[0]);
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    /// <summary>Generation 1 is v1 and every reload alternates, so odd generations are v1 and even ones v2.</summary>
    private static int ExpectedVersion(long generation) => generation % 2 == 1 ? 1 : 2;

    /// <summary>Puts the build that generation <paramref name="generation"/> must be at the path (rename, like lld).</summary>
    private void PlaceBuildFor(long generation) => _dir.ReplaceByRename(_builds[ExpectedVersion(generation) - 1]);

    private static Observation CallOnce(ReloadableLibrary<GreeterExports> library)
    {
        using var scope = library.Enter();
        bool retiredBefore = scope.Generation.IsRetired;
        int version = scope.Exports.Version;
        int sum = scope.Exports.Add(Observation.A, Observation.B);
        string message = scope.Exports.GetMessage(); // copied into managed memory while the generation is held
        return new Observation(scope.Generation.Number, retiredBefore, version, sum, message, scope.Generation.IsRetired);
    }

    [Test]
    public void TwoCallingThreads_DuringAThousandReloads_EveryCallSeesOneWholeLiveGeneration()
    {
        using var library = new ReloadableLibrary<GreeterExports>(
            _dir.LibraryPath, GreeterExports.Bind, new ReloadableLibraryOptions { WatchForChanges = false });
        var recorder = new LibraryRecorder<GreeterExports>(library);
        using var stop = new CancellationTokenSource();
        var problems = new ConcurrentQueue<string>();
        var callers = new Caller[2];
        for (int i = 0; i < callers.Length; i++)
        {
            callers[i] = new Caller(library, problems, stop.Token);
        }

        // The third thread: replace the file by rename and reload, alternating the two builds.
        var clock = Stopwatch.StartNew();
        int reloads = 0;
        string? reloadProblem = null;
        var reloader = new Thread(() =>
        {
            try
            {
                for (long next = 2; reloads < s_reloads && clock.Elapsed < s_budget; next++)
                {
                    PlaceBuildFor(next);
                    ReloadOutcome outcome = library.Reload();
                    if (outcome != ReloadOutcome.Loaded)
                    {
                        reloadProblem = $"reload {reloads + 1} returned {outcome}: {library.LastFailure?.Message}";
                        return;
                    }

                    reloads++;
                }
            }
            catch (Exception e)
            {
                reloadProblem = $"reload {reloads + 1} threw {e}";
            }
        })
        { IsBackground = true, Name = "stress reloader" };
        reloader.Start();
        bool reloaderEnded = reloader.Join(s_budget + TimeSpan.FromSeconds(30)); // a hung Reload() fails the test, not the run
        stop.Cancel();
        foreach (Caller caller in callers)
        {
            caller.Join();
        }

        TestContext.Out.WriteLine(
            $"{reloads} reloads in {clock.Elapsed.TotalSeconds:F1} s; calls per thread: {string.Join(", ", callers.Select(c => c.Calls))}; "
            + $"generations seen per thread: {string.Join(", ", callers.Select(c => c.GenerationsSeen))}");
        Assert.Multiple(() =>
        {
            Assert.That(reloaderEnded, Is.True, "the reloading thread ended");
            Assert.That(reloadProblem, Is.Null, "every reload must load");
            Assert.That(reloads, Is.EqualTo(s_reloads), $"reloads done within {s_budget.TotalSeconds} s");
            Assert.That(problems, Is.Empty, "calls that did not see one whole, live generation");
            Assert.That(callers.Select(c => c.Faults), Is.All.EqualTo(0), "calls that threw");
            Assert.That(recorder.Failures, Is.Empty, "reload failures");
            Assert.That(library.Current.Number, Is.EqualTo(s_reloads + 1));
            // The calls really overlapped the reloads: each thread called many times into many generations.
            Assert.That(callers.Select(c => c.Calls), Is.All.GreaterThan(10L * s_reloads), "calls per thread");
            Assert.That(callers.Select(c => c.GenerationsSeen), Is.All.GreaterThan(s_reloads / 10), "distinct generations each thread called into");
        });

        // Every old generation was freed once its last call returned; none was left behind.
        Eventually.That(() => recorder.Retired.Count == s_reloads, $"{s_reloads} generations retired");
        Assert.That(recorder.Retired.Select(r => r.Unmapped), Is.All.Not.False, "the plain C greeter must really unmap");
    }

    [Test]
    public void Scope_KeepsItsGenerationAlive_UntilDisposed_EvenWhileAReloadWaits()
    {
        using var library = new ReloadableLibrary<GreeterExports>(
            _dir.LibraryPath,
            GreeterExports.Bind,
            new ReloadableLibraryOptions { WatchForChanges = false, RetireTimeout = TimeSpan.FromSeconds(30) });
        var recorder = new LibraryRecorder<GreeterExports>(library);
        ReloadOutcome? outcome = null;
        Thread reloader;

        using (var scope = library.Enter())
        {
            Assert.That(scope.Generation.Number, Is.EqualTo(1));
            reloader = new Thread(() =>
            {
                PlaceBuildFor(2);
                outcome = library.Reload(); // swaps at once, then waits for our scope before freeing generation 1
            })
            { IsBackground = true, Name = "reloader" };
            reloader.Start();

            Eventually.That(() => !recorder.Reloads.IsEmpty, "generation 2 became current");
            Assert.That(library.Current.Number, Is.EqualTo(2), "new calls go to the new generation");
            using (var inner = library.Enter())
            {
                Assert.That(inner.Exports.Version, Is.EqualTo(2), "a scope opened after the swap calls v2");
            }

            // Give the reloader ample time to free generation 1 if it were going to; it must not.
            Thread.Sleep(300);
            bool retired = scope.Generation.IsRetired;
            int version = scope.Exports.Version;
            int sum = scope.Exports.Add(Observation.A, Observation.B);
            string message = scope.Exports.GetMessage();
            Assert.Multiple(() =>
            {
                Assert.That(recorder.Retired.Select(r => r.Generation), Does.Not.Contain(1L), "generation 1 retired while a scope held it");
                Assert.That(retired, Is.False);
                Assert.That(reloader.IsAlive, Is.True, "the reload waits for the scope before it frees the old generation");
                Assert.That(version, Is.EqualTo(1), "the open scope still calls its own generation");
                Assert.That(sum, Is.EqualTo(Observation.A + Observation.B + 1000));
                Assert.That(message, Is.EqualTo("Hello from v1"));
            });
        }

        Assert.That(reloader.Join(TimeSpan.FromSeconds(15)), Is.True, "the reload finishes once the scope is disposed");
        Assert.That(outcome, Is.EqualTo(ReloadOutcome.Loaded));
        Eventually.That(() => recorder.Retired.Any(r => r.Generation == 1), "generation 1 retired after the scope ended");
    }

    [Test]
    public void SafePointLoop_WithBackgroundReloads_CallsOnlyWholeGenerationsAndSwapsOnlyAtTheSafePoint()
    {
        const int reloadCount = 200;
        using var library = new ReloadableLibrary<GreeterExports>(
            _dir.LibraryPath,
            GreeterExports.Bind,
            new ReloadableLibraryOptions { ApplyMode = ApplyMode.AtSafePoint, WatchForChanges = false });
        var recorder = new LibraryRecorder<GreeterExports>(library);
        int loopThread = Environment.CurrentManagedThreadId;
        var reloadedOn = new ConcurrentBag<int>();
        var retiredOn = new ConcurrentBag<(long Generation, int Thread)>();
        library.Reloaded += (_, _) => reloadedOn.Add(Environment.CurrentManagedThreadId);
        library.GenerationRetired += (_, e) => retiredOn.Add((e.Generation, Environment.CurrentManagedThreadId));

        string? reloadProblem = null;
        int reloads = 0;
        var reloader = new Thread(() =>
        {
            for (long next = 2; next <= reloadCount + 1; next++)
            {
                PlaceBuildFor(next);
                if (library.Reload() is var outcome && outcome != ReloadOutcome.Loaded)
                {
                    reloadProblem = $"reload to generation {next} returned {outcome}: {library.LastFailure?.Message}";
                    return;
                }

                Volatile.Write(ref reloads, reloads + 1);
                Thread.Sleep(1); // let the loop reach a safe point now and then
            }
        })
        { IsBackground = true, Name = "safe-point reloader" };
        reloader.Start();

        var problems = new List<string>();
        var seen = new HashSet<long>();
        long frames = 0;
        var deadline = Stopwatch.StartNew();
        while ((reloader.IsAlive || library.HasPendingReload) && deadline.Elapsed < TimeSpan.FromSeconds(40))
        {
            library.ApplyPendingReload(); // the safe point: the top of a frame
            var generation = library.Current;
            seen.Add(generation.Number);
            for (int call = 0; call < 50 && problems.Count < 10; call++)
            {
                var exports = generation.Exports;
                var observation = new Observation(
                    generation.Number, generation.IsRetired, exports.Version, exports.Add(Observation.A, Observation.B), exports.GetMessage(), generation.IsRetired);
                if (observation.Problem(ExpectedVersion(generation.Number)) is { } problem)
                {
                    problems.Add(problem);
                }
            }

            if (!ReferenceEquals(library.Current, generation))
            {
                problems.Add($"Current changed from generation {generation.Number} to {library.Current.Number} between safe points");
            }

            frames++;
        }

        reloader.Join();
        TestContext.Out.WriteLine($"{reloads} reloads, {frames} frames, {seen.Count} generations called into");
        Assert.Multiple(() =>
        {
            Assert.That(reloadProblem, Is.Null);
            Assert.That(reloads, Is.EqualTo(reloadCount));
            Assert.That(recorder.Failures, Is.Empty, "reload failures");
            Assert.That(problems, Is.Empty);
            Assert.That(library.Current.Number, Is.EqualTo(reloadCount + 1), "the last build was applied at a safe point");
            Assert.That(seen.Count, Is.GreaterThan(10), "the loop called into many generations");
            Assert.That(reloadedOn, Is.All.EqualTo(loopThread), "Reloaded comes from ApplyPendingReload, on the loop's thread");
            // A generation that was current is retired by the safe point that replaced it, on the loop's thread.
            // (A pending generation superseded before any safe point was never current; it is freed on the reload thread.)
            Assert.That(
                retiredOn.Where(r => seen.Contains(r.Generation)).Select(r => r.Thread),
                Is.All.EqualTo(loopThread),
                "GenerationRetired of a generation that was current comes from ApplyPendingReload, on the loop's thread");
        });
    }

    [Test]
    public void Observation_ReportsEachKindOfInconsistency()
    {
        // The checks above are only as good as this: each kind of wrong observation must be caught.
        Assert.Multiple(() =>
        {
            Assert.That(new Observation(2, false, 2, 2042, "Hello from v2", false).Problem(2), Is.Null);
            Assert.That(new Observation(2, false, 1, 1042, "Hello from v1", false).Problem(2), Does.Contain("loaded from v2"));
            Assert.That(new Observation(2, false, 2, 1042, "Hello from v2", false).Problem(2), Does.Contain("add("));
            Assert.That(new Observation(2, false, 2, 2042, "Hello from v1", false).Problem(2), Does.Contain("message"));
            Assert.That(new Observation(2, true, 2, 2042, "Hello from v2", false).Problem(2), Does.Contain("retired"));
            Assert.That(new Observation(2, false, 2, 2042, "Hello from v2", true).Problem(2), Does.Contain("retired"));
        });
    }

    /// <summary>A thread that calls through <see cref="ReloadableLibrary{TExports}.Enter"/> as fast as it can until stopped.</summary>
    private sealed class Caller
    {
        private readonly Thread _thread;

        public Caller(ReloadableLibrary<GreeterExports> library, ConcurrentQueue<string> problems, CancellationToken stop)
        {
            _thread = new Thread(() =>
            {
                var generations = new HashSet<long>();
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        Observation observation = CallOnce(library);
                        Calls++;
                        generations.Add(observation.Generation);
                        if (observation.Problem(ExpectedVersion(observation.Generation)) is { } problem && problems.Count < 20)
                        {
                            problems.Enqueue(problem);
                        }
                    }
                    catch (Exception e)
                    {
                        Faults++;
                        if (problems.Count < 20)
                        {
                            problems.Enqueue($"call threw {e.GetType().Name}: {e.Message}");
                        }
                    }
                }

                GenerationsSeen = generations.Count;
            })
            { IsBackground = true, Name = "stress caller" };
            _thread.Start();
        }

        public long Calls { get; private set; }

        public long Faults { get; private set; }

        public int GenerationsSeen { get; private set; }

        public void Join() => _thread.Join();
    }
}
