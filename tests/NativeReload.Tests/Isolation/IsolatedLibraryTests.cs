using System.Collections.Concurrent;
using System.Diagnostics;
using NativeReload.Isolation;
using NativeReload.Reloading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Isolation;

/// <summary>
/// The isolated mode through the library API: the library runs in a worker (the published CLI's hidden
/// <c>worker</c> subcommand); crashes, hangs and exits are reported and survived, and the state block outlives them.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class IsolatedLibraryTests
{
    private LibraryDirectory _dir = null!;
    private ConcurrentQueue<WorkerCrashedEventArgs> _crashes = null!;
    private ConcurrentQueue<string> _workerOutput = null!;

    [SetUp]
    public void SetUp()
    {
        if (!TestPaths.HasFixtureGroup("crash"))
        {
            Assert.Fail("the crash fixtures were not built (build/fixtures/fixtures.txt has no 'crash')");
        }

        _dir = new LibraryDirectory("isolated");
        _crashes = new ConcurrentQueue<WorkerCrashedEventArgs>();
        _workerOutput = new ConcurrentQueue<string>();
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private IsolatedLibrary Open(string fixture, TimeSpan? timeout = null, params string[] required)
    {
        _dir.ReplaceByRename(fixture);
        var library = new IsolatedLibrary(_dir.LibraryPath, new IsolatedLibraryOptions
        {
            Worker = IsolatedWorkerCommand.ForCli(TestPaths.Cli),
            WatchForChanges = false,
            CallTimeout = timeout ?? TimeSpan.FromSeconds(5),
            RequiredExports = required.Length == 0 ? ["get_message"] : required,
            WorkerOutput = _workerOutput.Enqueue,
        });
        library.Crashed += (_, e) => _crashes.Enqueue(e);
        return library;
    }

    private ReloadOutcome ReloadTo(IsolatedLibrary library, string fixture)
    {
        _dir.ReplaceByRename(fixture);
        return library.Reload();
    }

    [Test]
    public void StringsInt32sAndBuffers_Cross_AndAMissingExportIsAnError()
    {
        using IsolatedLibrary library = Open("isolation_echo");
        Assert.Multiple(() =>
        {
            Assert.That(library.CallString("get_message"), Is.EqualTo("Hello from isolation"));
            Assert.That(library.CallInt32("add", 40, 2), Is.EqualTo(42));
            Span<byte> output = stackalloc byte[8];
            Assert.That(library.CallBuffer("reverse_bytes", [1, 2, 3, 4, 5], output), Is.EqualTo(5));
            Assert.That(output[..5].ToArray(), Is.EqualTo(new byte[] { 5, 4, 3, 2, 1 }));
            Assert.That(library.CallBuffer("reverse_bytes", new byte[9], output), Is.EqualTo(-1), "the export's own error comes back");
            Assert.That(() => library.CallString("no_such_export"), Throws.TypeOf<IsolatedCallException>().With.Message.Contains("no_such_export"));
            Assert.That(library.Generation, Is.EqualTo(1));
            Assert.That(library.WorkerProcessId, Is.Not.EqualTo(Environment.ProcessId).And.Not.Zero);
        });
    }

    [Test]
    public void FirstLoad_OfABuildThatAbortsInItsLoadHook_FailsWithTheSignal()
    {
        var e = Assert.Throws<LibraryLoadException>(() => Open("crash_abort_load"));
        Assert.That(e!.Detail, Is.EqualTo($"the worker crashed while loading generation 1 ({Expected.Abort})"));
    }

    [Test]
    public void BuildThatAbortsInItsLoadHook_IsReportedOnce_AndTheOldGenerationGoesOn_UntilTheNextGoodBuild()
    {
        using IsolatedLibrary library = Open("greeter_v1");
        int firstWorker = library.WorkerProcessId;

        Assert.That(ReloadTo(library, "crash_abort_load"), Is.EqualTo(ReloadOutcome.Failed));
        WorkerCrashedEventArgs crash = _crashes.Single();
        Assert.Multiple(() =>
        {
            Assert.That(crash.ToString(), Is.EqualTo($"crashed: {_dir.LibraryPath} generation 2 ({Expected.Abort})"));
            Assert.That(crash.DuringLoad, Is.True);
            Assert.That(library.Generation, Is.EqualTo(1), "restarted on the last generation that did not crash");
            Assert.That(library.WorkerProcessId, Is.Not.EqualTo(firstWorker), "a new worker");
            Assert.That(library.CallString("get_message"), Is.EqualTo("Hello from v1"));
        });

        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed), "the crashing build is not retried while the file holds it");
        Assert.That(_crashes, Has.Count.EqualTo(1));

        Assert.That(ReloadTo(library, "greeter_v2"), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(library.CallString("get_message"), Is.EqualTo("Hello from v2"));
        Assert.That(library.Generation, Is.EqualTo(3));
    }

    [Test]
    public void HangingCall_IsKilledAfterTheTimeout_ReportedLikeACrash_AndTheNextCallAnswers()
    {
        using IsolatedLibrary library = Open("greeter_v1", TimeSpan.FromMilliseconds(500));
        Assert.That(ReloadTo(library, "crash_hang"), Is.EqualTo(ReloadOutcome.Loaded), "it loads; only get_message hangs");

        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<WorkerCrashedException>(() => library.CallString("get_message"));
        clock.Stop();
        Assert.Multiple(() =>
        {
            Assert.That(e!.Crash.Exit.TimedOut, Is.True);
            Assert.That(e.Crash.ToString(), Is.EqualTo($"crashed: {_dir.LibraryPath} generation 2 (no answer within 500 ms)"));
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(4)), "the timeout, the kill and the restart together");
            Assert.That(library.CallString("get_message"), Is.EqualTo("Hello from v1"));
            Assert.That(_crashes, Has.Count.EqualTo(1));
        });
    }

    [TestCase("crash_exit", "exit code 3")]
    [TestCase("crash_segv", null)]
    public void CrashingCall_IsReportedWithHowTheWorkerEnded_AndTheOldGenerationAnswersNext(string fixture, string? description)
    {
        description ??= Expected.Segv;
        using IsolatedLibrary library = Open("greeter_v1");
        Assert.That(library.CallString("get_message"), Is.EqualTo("Hello from v1"));
        Assert.That(ReloadTo(library, fixture), Is.EqualTo(ReloadOutcome.Loaded));

        var e = Assert.Throws<WorkerCrashedException>(() => library.CallString("get_message"));
        Assert.Multiple(() =>
        {
            Assert.That(e!.Crash.Exit.Description, Is.EqualTo(description));
            Assert.That(e.Crash.Generation, Is.EqualTo(2));
            Assert.That(e.Crash.DuringLoad, Is.False);
            Assert.That(library.CallString("get_message"), Is.EqualTo("Hello from v1"));
            Assert.That(library.Generation, Is.EqualTo(1));
        });
    }

    [Test]
    public void StackOverflowInNativeCode_IsACrash_NotTheHostsDeath()
    {
        using IsolatedLibrary library = Open("greeter_v1");
        Assert.That(ReloadTo(library, "crash_stack"), Is.EqualTo(ReloadOutcome.Loaded));
        var e = Assert.Throws<WorkerCrashedException>(() => library.CallString("get_message"));
        Assert.That(e!.Crash.Exit.TimedOut, Is.False);
        // The overflow faults (SIGSEGV/SIGBUS); the .NET runtime in the worker usually turns that into "Stack overflow."
        // and abort() (seen here: SIGABRT). Windows ends the process with 0xC00000FD.
        Assert.That(e.Crash.Exit.Description, OperatingSystem.IsWindows()
            ? Does.Contain("0xC00000FD")
            : Is.AnyOf("signal SIGABRT", "signal SIGSEGV", "signal SIGBUS"));
        Assert.That(library.CallString("get_message"), Is.EqualTo("Hello from v1"));
    }

    [Test]
    public void OnlyGenerationCrashes_CallsAreRefused_UntilANewBuildArrives()
    {
        using IsolatedLibrary library = Open("crash_segv");
        Assert.Throws<WorkerCrashedException>(() => library.CallString("get_message"));
        Assert.That(library.Generation, Is.Zero);
        Assert.Throws<IsolatedLibraryUnavailableException>(() => library.CallString("get_message"));

        Assert.That(ReloadTo(library, "greeter_v2"), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(library.CallString("get_message"), Is.EqualTo("Hello from v2"));
        Assert.That(library.Generation, Is.EqualTo(2));
    }

    [Test]
    public void CounterState_LivesInTheHostsSharedMemory_AndSurvivesAWorkerCrash()
    {
        using IsolatedLibrary library = Open("counter_v1");
        Assert.That(library.CallString("get_message"), Is.EqualTo("v1 count 1"));
        Assert.That(library.CallString("get_message"), Is.EqualTo("v1 count 2"));
        Assert.That(library.CallString("get_message"), Is.EqualTo("v1 count 3"));
        Assert.That(BitConverter.ToInt64(library.StateSnapshot(), 0), Is.EqualTo(3), "the host reads the count the worker wrote");

        // Counts to 4 in the block, then segfaults.
        Assert.That(ReloadTo(library, "crash_counter_segv"), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.Throws<WorkerCrashedException>(() => library.CallString("get_message"));
        Assert.That(BitConverter.ToInt64(library.StateSnapshot(), 0), Is.EqualTo(4), "what was written before the crash stays");

        Assert.That(library.CallString("get_message"), Is.EqualTo("v1 count 5"), "generation 1, restarted in a new worker, took the block back");
        Assert.That(ReloadTo(library, "counter_v2"), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(library.CallString("get_message"), Is.EqualTo("v2 count 6"));
        Assert.That(library.StateLayout, Is.EqualTo(1));
    }

    [Test]
    public void Dispose_GivesTheStateBack_StopsTheWorker_AndRemovesTheShadowDirectory()
    {
        if (!TestPaths.HasFixtureGroup("state_probe"))
        {
            Assert.Fail("the state_probe fixtures were not built");
        }

        // state_probe logs its nr_load/nr_unload to STATE_PROBE_LOG; the worker inherits the variable from this process.
        string log = Path.Combine(Path.GetTempPath(), $"nativereload-probe-{Guid.NewGuid():N}.log");
        Environment.SetEnvironmentVariable("STATE_PROBE_LOG", log);
        try
        {
            IsolatedLibrary library = Open("state_probe_v1");
            Assert.That(library.CallString("get_message"), Is.EqualTo("probe v1"));
            Assert.That(library.StateSnapshot().Length, Is.GreaterThanOrEqualTo(24 + 256), "the block the library asked for");
            int pid = library.WorkerProcessId;
            string shadow = library.ShadowDirectory;
            library.Dispose();
            Assert.Multiple(() =>
            {
                Assert.That(File.ReadAllLines(log), Is.EqualTo(new[] { "load kind=0 gen=1", "unload gen=1" }), "nr_unload gave the state back before the worker stopped");
                Assert.That(Directory.Exists(shadow), Is.False);
                Assert.That(() => Process.GetProcessById(pid).HasExited, Throws.ArgumentException.Or.True);
            });
        }
        finally
        {
            Environment.SetEnvironmentVariable("STATE_PROBE_LOG", null);
            File.Delete(log);
        }
    }

    /// <summary>How the worker's death is described on this platform.</summary>
    internal static class Expected
    {
        public static string Segv => OperatingSystem.IsWindows() ? "exception 0xC0000005 (access violation)" : "signal SIGSEGV";

        // The Windows CRT's abort() ends the process with exit code 3.
        public static string Abort => OperatingSystem.IsWindows() ? "exit code 3" : "signal SIGABRT";
    }
}
