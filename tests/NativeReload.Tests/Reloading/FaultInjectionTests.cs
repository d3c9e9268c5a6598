using Microsoft.Extensions.Logging;
using NativeReload.Reloading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Reloading;

/// <summary>
/// The class, not just the instances (issue 11): at each step of a reload the host is made to throw or to stall while
/// another thread disposes it, and the same invariants are checked afterwards: no hang (every wait bounded), no freed
/// memory reachable (<see cref="ReloadableLibrary{TExports}.Current"/> usable or a clear
/// <see cref="ObjectDisposedException"/>), the old generation serving or the new one, exactly one failure report, the
/// next good build picked up, every <c>nr_load</c> matched by an <c>nr_unload</c>, and nothing left after dispose.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class FaultInjectionTests
{
    private static readonly TimeSpan Bounded = TimeSpan.FromSeconds(10);
    private ProbeDirectory _probe = null!;

    private LibraryDirectory Files => _probe.Files;

    [SetUp]
    public void SetUp() => _probe = new ProbeDirectory("faulty");

    [TearDown]
    public void TearDown() => _probe.Dispose();

    /// <summary>Where a fault is injected and which fixtures drive that step.</summary>
    public static IEnumerable<TestCaseData> ThrowingSteps()
    {
        // The plugin swap (state_probe v1 → v2) passes through every step but Retire, which only a plain swap has.
        foreach (ReloadStep step in new[] { ReloadStep.Read, ReloadStep.Load, ReloadStep.Unload, ReloadStep.StateGrowth, ReloadStep.LoadHook })
        {
            yield return new TestCaseData(step.ToString()).SetName($"Throw_At{step}_OldGenerationServes_OneReport_NextBuildLoads");
        }
    }

    private ReloadableLibrary<ProbeExports> OpenProbe(Action<ReloadStep> fault, ILogger? logger = null) =>
        _probe.Open("state_probe_v1", new ReloadableLibraryOptions { RetireTimeout = TimeSpan.FromSeconds(2), FaultInjection = fault }, logger);

    private static string Call(ReloadableLibrary<ProbeExports> library)
    {
        using var scope = library.Enter();
        return scope.Exports.GetMessage();
    }

    /// <summary>True when the serving generation holds the state block (its nr_load ran and no nr_unload since).</summary>
    private static bool ServingHoldsState(ReloadableLibrary<ProbeExports> library)
    {
        using var scope = library.Enter();
        return scope.Exports.SlowTouch(0) > 0;
    }

    private void AssertHooksBalanced()
    {
        string[] lines = _probe.HookLines();
        // Generation 1's first nr_load ran before the test named the log file: one unlogged load.
        Assert.That(1 + lines.Count(l => l.StartsWith("load", StringComparison.Ordinal)),
            Is.EqualTo(lines.Count(l => l.StartsWith("unload", StringComparison.Ordinal))),
            "every nr_load was matched by one nr_unload:\n" + string.Join("\n", lines));
    }

    private static void AssertNothingLeft<T>(ReloadableLibrary<T> library)
        where T : class
    {
        Eventually.That(() => library.StuckGenerationCount == 0 && !Directory.Exists(library.ShadowDirectory),
            "no stuck generation and no shadow directory left after dispose");
        Assert.Throws<ObjectDisposedException>(() => _ = library.Current);
        Assert.Throws<ObjectDisposedException>(() => library.Enter());
    }

    [TestCaseSource(nameof(ThrowingSteps))]
    public void ThrowAtStep(string stepName)
    {
        ReloadStep failingStep = Enum.Parse<ReloadStep>(stepName);
        bool armed = true;
        var library = OpenProbe(step =>
        {
            if (armed && step == failingStep)
            {
                throw new InvalidOperationException($"injected at {step}");
            }
        });
        var recorder = new LibraryRecorder<ProbeExports>(library);
        Files.ReplaceByRename("state_probe_v2");

        ReloadOutcome outcome = ReloadOutcome.Loaded;
        Assert.DoesNotThrow(() => outcome = library.Reload());
        Assert.Multiple(() =>
        {
            Assert.That(outcome, Is.EqualTo(ReloadOutcome.Failed));
            Assert.That(recorder.Failures, Has.Count.EqualTo(1), "exactly one failure report");
            Assert.That(recorder.Failures.Single().Reason, Is.EqualTo(ReloadFailureReason.HostError));
            Assert.That(recorder.Failures.Single().Detail, Is.EqualTo($"the host failed {HostWords(failingStep)}: InvalidOperationException: injected at {failingStep}"),
                "the step is named in the host's own words");
            Assert.That(recorder.Failures.Single().RunningGeneration, Is.EqualTo(1));
            Assert.That(library.Current.Number, Is.EqualTo(1), "the old generation serves");
            Assert.That(Call(library), Is.EqualTo("probe v1"));
            Assert.That(ServingHoldsState(library), Is.True, "the serving generation has its state (given back by the rollback)");
            Assert.That(recorder.Reloads, Is.Empty);
        });

        armed = false;
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded), "the next good build is picked up");
        Assert.That(Call(library), Is.EqualTo("probe v2"));
        Assert.That(ServingHoldsState(library), Is.True);
        library.Dispose();
        AssertNothingLeft(library);
        AssertHooksBalanced();
    }

    /// <summary>How the failure report names each step (the words a user reads after "the host failed").</summary>
    private static string HostWords(ReloadStep step) => step switch
    {
        ReloadStep.Read => "while reading the file",
        ReloadStep.Load => "while loading the new build",
        _ => "during the plugin swap; rolled back to generation 1",
    };

    [Test]
    public void Throw_AtRollback_AfterARefusedLoad_OldGenerationStillServes()
    {
        // counter_failload refuses NR_RELOAD; the rollback that follows throws. The old generation must still serve.
        if (!TestPaths.HasFixtureGroup("counter"))
        {
            Assert.Fail("the counter fixtures were not built");
        }

        using var dir = new LibraryDirectory("rollback");
        dir.ReplaceByRename("counter_v1");
        using var library = new ReloadableLibrary<CounterExports>(dir.LibraryPath, CounterExports.Bind,
            new ReloadableLibraryOptions
            {
                WatchForChanges = false,
                FaultInjection = step =>
                {
                    if (step == ReloadStep.Rollback)
                    {
                        throw new InvalidOperationException("injected at Rollback");
                    }
                },
            });
        var recorder = new LibraryRecorder<CounterExports>(library);
        dir.ReplaceByRename("counter_failload");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));
        Assert.That(recorder.Failures, Has.Count.EqualTo(1));
        Assert.That(recorder.Failures.Single().Detail, Is.EqualTo("nr_load returned 7; rolled back to generation 1 with its state"));
        Assert.That(library.Current.Number, Is.EqualTo(1));
        using (var scope = library.Enter())
        {
            Assert.That(scope.Exports.Version, Is.EqualTo(1));
        }

        dir.ReplaceByRename("counter_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
    }

    [Test]
    public void Throw_AtRetire_TheSwapStands_AndTheOldGenerationIsStillFreed_Once()
    {
        Files.ReplaceByRename("greeter_v1");
        var log = new RecordingLogger();
        using var library = new ReloadableLibrary<GreeterExports>(Files.LibraryPath, GreeterExports.Bind,
            new ReloadableLibraryOptions
            {
                WatchForChanges = false,
                FaultInjection = step =>
                {
                    if (step == ReloadStep.Retire)
                    {
                        throw new InvalidOperationException("injected at Retire");
                    }
                },
            },
            log);
        var recorder = new LibraryRecorder<GreeterExports>(library);
        Files.ReplaceByRename("greeter_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(recorder.Failures, Is.Empty, "the new generation serves: nothing failed for the user");
        Assert.That(library.Current.Number, Is.EqualTo(2));
        Assert.That(log.Entries.Where(e => e.EventId == 10).Select(e => e.Exception?.Message), Is.EqualTo(new[] { "injected at Retire" }),
            "the host's own error is logged");
        Eventually.That(() => recorder.Retired.Any(r => r.Generation == 1), "generation 1 freed by the retry, not leaked");
        Thread.Sleep(StuckGenerations.RetryInterval * 4);
        Assert.That(recorder.Retired.Count(r => r.Generation == 1), Is.EqualTo(1), "and freed once: the retry owns it");
    }

    public static IEnumerable<TestCaseData> StallingSteps()
    {
        foreach (ReloadStep step in new[] { ReloadStep.Read, ReloadStep.Load, ReloadStep.Unload, ReloadStep.StateGrowth, ReloadStep.LoadHook })
        {
            yield return new TestCaseData(step.ToString()).SetName($"Stall_At{step}_WhileAnotherThreadDisposes_NoHang_NothingLeft");
        }
    }

    [TestCaseSource(nameof(StallingSteps))]
    public void StallAtStep(string stepName)
    {
        ReloadStep stallingStep = Enum.Parse<ReloadStep>(stepName);
        using var stalled = new ManualResetEventSlim();
        var library = OpenProbe(step =>
        {
            if (step == stallingStep)
            {
                stalled.Set();
                Thread.Sleep(1000); // the reload is stuck here while the test disposes
            }
        });
        Files.ReplaceByRename("state_probe_v2");

        Task<ReloadOutcome> reload = Task.Run(library.Reload);
        Assert.That(stalled.Wait(Bounded), Is.True, "the reload reached the step");
        Task dispose = Task.Run(library.Dispose);

        Assert.That(dispose.Wait(Bounded), Is.True, "Dispose finished");
        Assert.That(reload.Wait(Bounded), Is.True, "the reload finished");
        Assert.That(reload.Result, Is.AnyOf(ReloadOutcome.Loaded, ReloadOutcome.Failed));
        AssertNothingLeft(library);
        AssertHooksBalanced();
    }

    [Test]
    public void ThrowingHandlersAndLogger_EverywhereAtOnce_TheLibraryGoesOn()
    {
        var logger = new AlwaysThrowingLogger();
        Files.ReplaceByRename("state_probe_v1");
        using var library = new ReloadableLibrary<ProbeExports>(Files.LibraryPath, ProbeExports.Bind,
            new ReloadableLibraryOptions { WatchForChanges = false }, logger);
        int reloads = 0, failures = 0, retired = 0;
        library.Reloaded += (_, _) => { reloads++; throw new InvalidOperationException("handler"); };
        library.Reloaded += (_, _) => reloads++; // later handlers of the same event still run
        library.ReloadFailed += (_, _) => { failures++; throw new InvalidOperationException("handler"); };
        library.GenerationRetired += (_, _) => { retired++; throw new InvalidOperationException("handler"); };

        for (int i = 0; i < 5; i++)
        {
            Files.ReplaceByRename(i % 2 == 0 ? "state_probe_v2" : "state_probe_v1");
            Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        }

        Files.ReplaceByRename("state_probe_huge");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));
        Assert.Multiple(() =>
        {
            Assert.That(reloads, Is.EqualTo(5), "a throwing handler stops the delegate chain (as .NET events do); the library raised each event once");
            Assert.That(failures, Is.EqualTo(1));
            Assert.That(retired, Is.EqualTo(5));
            Assert.That(logger.Calls, Is.GreaterThan(0));
            Assert.That(library.Current.Number, Is.EqualTo(6));
        });
    }

    /// <summary>A logger that throws from every call, from the first load on.</summary>
    private sealed class AlwaysThrowingLogger : ILogger
    {
        public int Calls { get; private set; }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            Calls++;
            throw new InvalidOperationException("logger");
        }
    }
}
