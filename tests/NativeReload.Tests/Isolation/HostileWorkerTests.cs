using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using NativeReload.Isolation;
using NativeReload.Loading;
using NativeReload.Reloading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Isolation;

/// <summary>
/// The isolated host against a worker that lies: a library (native/fixtures/isolation_hostile.c) that writes into the
/// state file's header, writes garbage, oversized and stalled frames into the worker's channel, or asks for a huge
/// block; and a host that asks for too much. After every fault: the host is alive, the fault is reported once and
/// clearly, the last good generation answers (or a clear exception says none can), and the next good build loads.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class HostileWorkerTests
{
    private LibraryDirectory _dir = null!;
    private ConcurrentQueue<WorkerCrashedEventArgs> _crashes = null!;
    private ConcurrentQueue<ReloadFailedEventArgs> _failures = null!;

    [SetUp]
    public void SetUp()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("the hostile fixture finds its channel among Unix file descriptors");
        }

        if (!TestPaths.HasFixtureGroup("isolation_hostile") || !TestPaths.HasFixtureGroup("crash"))
        {
            Assert.Fail("the isolation_hostile and crash fixtures were not built (build/fixtures/fixtures.txt)");
        }

        _dir = new LibraryDirectory("hostile");
        _crashes = new ConcurrentQueue<WorkerCrashedEventArgs>();
        _failures = new ConcurrentQueue<ReloadFailedEventArgs>();
    }

    [TearDown]
    public void TearDown() => _dir?.Dispose();

    private IsolatedLibrary Open(string fixture, TimeSpan? timeout = null, ILogger? logger = null)
    {
        _dir.ReplaceByRename(fixture);
        var library = new IsolatedLibrary(_dir.LibraryPath, new IsolatedLibraryOptions
        {
            Worker = IsolatedWorkerCommand.ForCli(TestPaths.Cli),
            WatchForChanges = false,
            CallTimeout = timeout ?? TimeSpan.FromSeconds(5),
            RequiredExports = ["get_message"],
            WorkerOutput = _ => { },
        }, logger);
        library.Crashed += (_, e) => _crashes.Enqueue(e);
        library.ReloadFailed += (_, e) => _failures.Enqueue(e);
        return library;
    }

    private ReloadOutcome ReloadTo(IsolatedLibrary library, string fixture)
    {
        _dir.ReplaceByRename(fixture);
        return library.Reload();
    }

    /// <summary>The copies of the library in the shadow directory (not the state block or the socket).</summary>
    private static string[] Copies(IsolatedLibrary library) =>
        Directory.GetFiles(library.ShadowDirectory, "*" + Path.GetExtension(LibraryNaming.FileName("x")));

    // ---- defect 4: the host trusts memory the worker can write -------------------------------------------------

    [Test]
    public void WorkerWritesIntoTheStateFileHeader_TheHostReadsOnlyWhatItsOwnRecordsSay_AndARestartGetsAGoodHeader()
    {
        var warnings = new WarningRecorder();
        using IsolatedLibrary library = Open("isolation_hostile", logger: warnings);
        Assert.That(library.CallString("hostile_corrupt_header"), Is.EqualTo("header corrupted"));

        // The header now says 0x7fff0000 bytes and has no magic. The block is 16 bytes: that is all the host reads.
        Assert.That(library.StateSnapshot(), Has.Length.EqualTo(16));
        Assert.That(library.StateLayout, Is.EqualTo(1));

        // A plain build takes over (the block stays with the host), then crashes: the worker restarted on generation 1
        // must get a block it can open, whatever the crashed worker left in the header.
        Assert.That(ReloadTo(library, "crash_segv"), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.Throws<WorkerCrashedException>(() => library.CallString("get_message"));
        Assert.Multiple(() =>
        {
            Assert.That(library.Generation, Is.EqualTo(1), "restarted on the hostile but non-crashing generation 1");
            Assert.That(library.CallString("get_message"), Is.EqualTo("Hello from hostile"));
            Assert.That(library.StateSnapshot(), Has.Length.EqualTo(16));
            Assert.That(_crashes, Has.Count.EqualTo(1));
            Assert.That(warnings.Lines.Where(line => line.Contains("header", StringComparison.Ordinal)), Has.Exactly(1).Items,
                "the tampering is reported once, when the host puts the header back");
        });
        Assert.That(ReloadTo(library, "greeter_v2"), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(library.CallString("get_message"), Is.EqualTo("Hello from v2"));
    }

    /// <summary>Keeps the warnings (and worse) a library logs.</summary>
    private sealed class WarningRecorder : ILogger
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                Lines.Enqueue(formatter(state, exception));
            }
        }
    }

    // ---- defect 5: an oversized call is reported as a crash of a good build ------------------------------------

    [Test]
    public void OversizedCallBuffer_IsAnArgumentException_AndNothingElseChanges()
    {
        using IsolatedLibrary library = Open("isolation_echo");
        int worker = library.WorkerProcessId;
        byte[] huge = new byte[256 * 1024 * 1024];
        byte[] small = new byte[8];

        Assert.Multiple(() =>
        {
            Assert.That(() => library.CallBuffer("reverse_bytes", huge, small),
                Throws.TypeOf<ArgumentException>().With.Message.Contains("input"));
            Assert.That(() => library.CallBuffer("reverse_bytes", small, huge),
                Throws.TypeOf<ArgumentException>().With.Message.Contains("output"));
        });
        Assert.Multiple(() =>
        {
            Assert.That(_crashes, Is.Empty, "not a crash");
            Assert.That(_failures, Is.Empty, "not a failed reload either");
            Assert.That(library.WorkerProcessId, Is.EqualTo(worker), "the same worker");
            Assert.That(library.Generation, Is.EqualTo(1));
            Assert.That(library.CallBuffer("reverse_bytes", [1, 2, 3], small), Is.EqualTo(3));
            Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Unchanged), "the good build is still the good build");
        });
    }

    // ---- defect 8: a huge state_size -----------------------------------------------------------------------------

    [Test]
    public void HugeStateSize_OnReload_IsAReportedLoadFailure_TheOldGenerationServes_AndNoCopyIsLeft()
    {
        using IsolatedLibrary library = Open("greeter_v1");
        Assert.That(ReloadTo(library, "isolation_huge_state"), Is.EqualTo(ReloadOutcome.Failed));
        ReloadFailedEventArgs failure = _failures.Single();
        Assert.Multiple(() =>
        {
            Assert.That(failure.Detail, Does.Contain("3221225472").And.Contain("2 GiB"));
            Assert.That(failure.RunningGeneration, Is.EqualTo(1));
            Assert.That(_crashes, Is.Empty);
            Assert.That(Copies(library), Has.Length.EqualTo(1), "only generation 1's copy");
            Assert.That(library.CallString("get_message"), Is.EqualTo("Hello from v1"));
        });
        Assert.That(ReloadTo(library, "greeter_v2"), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(library.CallString("get_message"), Is.EqualTo("Hello from v2"));
    }

    [Test]
    public void HugeStateSize_OnTheFirstLoad_IsALibraryLoadException()
    {
        var e = Assert.Throws<LibraryLoadException>(() => Open("isolation_huge_state").Dispose());
        Assert.That(e!.Detail, Does.Contain("3221225472").And.Contain("2 GiB"));
    }

    // ---- defect 9: events raised under the lock -------------------------------------------------------------------

    [Test]
    public void ReloadFailedHandler_ThatWaitsForDisposeOnAnotherThread_DoesNotDeadlock()
    {
        IsolatedLibrary library = Open("greeter_v1");
        bool? disposedInTime = null;
        library.ReloadFailed += (_, _) => disposedInTime = DisposeOnAnotherThread(library);
        Assert.That(ReloadTo(library, "greeter_nomsg"), Is.EqualTo(ReloadOutcome.Failed));
        Assert.That(disposedInTime, Is.True, "Dispose on another thread finished while the handler waited for it");
        Assert.That(() => library.CallString("get_message"), Throws.TypeOf<ObjectDisposedException>());
    }

    [Test]
    public void CrashedHandler_ThatWaitsForDisposeOnAnotherThread_DoesNotDeadlock()
    {
        IsolatedLibrary library = Open("greeter_v1");
        bool? disposedInTime = null;
        library.Crashed += (_, _) => disposedInTime = DisposeOnAnotherThread(library);
        Assert.That(ReloadTo(library, "crash_segv"), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.Throws<WorkerCrashedException>(() => library.CallString("get_message"));
        Assert.That(disposedInTime, Is.True, "Dispose on another thread finished while the handler waited for it");
        Assert.That(library.WorkerProcessId, Is.Zero, "no worker is left running after Dispose");
    }

    [Test]
    public void ReloadFailedHandler_OnTheWatcherThread_ThatWaitsForDisposeOnAnotherThread_DoesNotDeadlock()
    {
        _dir.ReplaceByRename("greeter_v1");
        IsolatedLibrary library = new(_dir.LibraryPath, new IsolatedLibraryOptions
        {
            Worker = IsolatedWorkerCommand.ForCli(TestPaths.Cli),
            RequiredExports = ["get_message"],
            WorkerOutput = _ => { },
        });
        var handled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        library.ReloadFailed += (_, _) => handled.TrySetResult(DisposeOnAnotherThread(library));
        _dir.ReplaceByRename("greeter_nomsg");
        Assert.That(handled.Task.Wait(TimeSpan.FromSeconds(30)), Is.True, "the watcher reported the broken build");
        Assert.That(handled.Task.Result, Is.True, "Dispose on another thread finished while the watcher's handler waited for it");
    }

    private static bool DisposeOnAnotherThread(IsolatedLibrary library)
    {
        var thread = new Thread(library.Dispose) { IsBackground = true };
        thread.Start();
        return thread.Join(TimeSpan.FromSeconds(10));
    }

    // ---- the token stays out of the library's native environment ---------------------------------------------

    [Test]
    public void TheWorkersToken_IsNotInTheNativeEnvironmentTheLibrarySees()
    {
        using IsolatedLibrary library = Open("isolation_hostile");
        Assert.That(library.CallString("get_token_env"), Is.Null, $"getenv(\"{IsolationWorker.TokenVariable}\") in the library");
    }

    // ---- garbage, oversized and stalled frames ----------------------------------------------------------------

    [TestCase("hostile_garbage_frame", "broke the protocol: an answer out of turn")]
    [TestCase("hostile_huge_length", "broke the protocol: bad frame length 4294967295")]
    [TestCase("hostile_forged_answer", "broke the protocol: an answer out of turn")]
    public void WorkerWritesABadFrame_ItIsKilledAndReportedOnce_TheLastGoodGenerationAnswers_AndTheNextBuildLoads(string export, string description)
    {
        using IsolatedLibrary library = Open("greeter_v1");
        Assert.That(ReloadTo(library, "isolation_hostile"), Is.EqualTo(ReloadOutcome.Loaded));
        int hostileWorker = library.WorkerProcessId;

        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<WorkerCrashedException>(() => library.CallString(export));
        clock.Stop();
        AssertRecovered(library, e!, description, hostileWorker, clock.Elapsed);
    }

    [Test]
    public void WorkerStallsMidFrame_TheCallTimesOut_AndIsReportedOnce()
    {
        using IsolatedLibrary library = Open("greeter_v1", TimeSpan.FromMilliseconds(500));
        Assert.That(ReloadTo(library, "isolation_hostile"), Is.EqualTo(ReloadOutcome.Loaded));
        int hostileWorker = library.WorkerProcessId;

        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<WorkerCrashedException>(() => library.CallString("hostile_stall_mid_frame"));
        clock.Stop();
        AssertRecovered(library, e!, "no answer within 500 ms", hostileWorker, clock.Elapsed);
    }

    [Test]
    public void WorkerTricklesAFrame_TheCallTimeoutBoundsTheWholeAnswer_NotEachByte()
    {
        using IsolatedLibrary library = Open("greeter_v1", TimeSpan.FromMilliseconds(500));
        Assert.That(ReloadTo(library, "isolation_hostile"), Is.EqualTo(ReloadOutcome.Loaded));
        int hostileWorker = library.WorkerProcessId;

        var clock = Stopwatch.StartNew();
        WorkerCrashedException? e = null;
        var call = Task.Run(() => e = Assert.Throws<WorkerCrashedException>(() => library.CallString("hostile_trickle_frame")));
        Assert.That(call.Wait(TimeSpan.FromSeconds(30)), Is.True, "the call returned at all");
        clock.Stop();
        AssertRecovered(library, e!, "no answer within 500 ms", hostileWorker, clock.Elapsed);
    }

    private void AssertRecovered(IsolatedLibrary library, WorkerCrashedException e, string description, int hostileWorker, TimeSpan elapsed)
    {
        Assert.Multiple(() =>
        {
            Assert.That(e.Crash.ToString(), Does.StartWith($"crashed: {_dir.LibraryPath} generation 2 ({description}").And.EndsWith(")"));
            Assert.That(elapsed, Is.LessThan(TimeSpan.FromSeconds(4)), "the fault, the kill and the restart together");
            Assert.That(_crashes, Has.Count.EqualTo(1), "one report");
            Assert.That(Process.GetProcesses().Any(p => p.Id == hostileWorker), Is.False, "the lying worker is gone");
            Assert.That(library.Generation, Is.EqualTo(1));
            Assert.That(library.CallString("get_message"), Is.EqualTo("Hello from v1"), "the last good generation answers");
            Assert.That(library.CallString("get_message"), Is.EqualTo("Hello from v1"), "and the channel is in step");
        });
        Assert.That(ReloadTo(library, "greeter_v2"), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(library.CallString("get_message"), Is.EqualTo("Hello from v2"));
        Assert.That(_crashes, Has.Count.EqualTo(1));
    }
}
