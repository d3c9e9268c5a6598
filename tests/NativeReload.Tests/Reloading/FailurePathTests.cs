using System.Diagnostics;
using Microsoft.Extensions.Logging;
using NativeReload.Calling;
using NativeReload.Reloading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Reloading;

/// <summary>
/// Regression tests for the host's own failure paths (issue 11, defects 2, 3, 6, 7, 8, 9 and the smaller ones): each
/// failed on the code before its fix. Every wait is bounded, so a regression fails instead of hanging the run.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class FailurePathTests
{
    private static readonly TimeSpan Bounded = TimeSpan.FromSeconds(10);
    private ProbeDirectory _probe = null!;

    private LibraryDirectory Files => _probe.Files;

    [SetUp]
    public void SetUp() => _probe = new ProbeDirectory("probe");

    [TearDown]
    public void TearDown() => _probe.Dispose();

    private ReloadableLibrary<ProbeExports> OpenProbe(string fixture, ReloadableLibraryOptions? options = null, ILogger? logger = null) =>
        _probe.Open(fixture, options, logger);

    private ReloadableLibrary<GreeterExports> OpenGreeter(TimeSpan retireTimeout)
    {
        Files.ReplaceByRename("greeter_v1");
        return new ReloadableLibrary<GreeterExports>(Files.LibraryPath, GreeterExports.Bind,
            new ReloadableLibraryOptions { WatchForChanges = false, RetireTimeout = retireTimeout });
    }

    private static unsafe bool HasData(NativeReload.Plugins.StateBlock block) => block.Data != null;

    private string[] HookLines() => _probe.HookLines();

    // ---- defect 2: Dispose must not free what a running call can reach ----------------------------------------------

    [Test]
    public void Dispose_KeepsTheGenerationAndItsStateBlock_WhileACallOutlastsTheRetireTimeout_AndFreesThemWhenItReturns()
    {
        var library = OpenProbe("state_probe_v1", new ReloadableLibraryOptions { RetireTimeout = TimeSpan.FromMilliseconds(200) });
        var recorder = new LibraryRecorder<ProbeExports>(library);
        long touched = 0;
        using var call = new CallInside<ProbeExports>(library, exports => touched = exports.SlowTouch(1500));

        library.Dispose();

        Assert.Multiple(() =>
        {
            Assert.That(HasData(library.State!), Is.True, "the state block is kept while the call is inside");
            Assert.That(recorder.Retired, Is.Empty, "generation 1 is not freed while the call is inside");
            Assert.That(HookLines(), Has.None.StartsWith("unload"), "nr_unload waits for the call too");
        });

        call.Release();
        call.Join();
        Assert.That(touched, Is.EqualTo(1), "the call wrote into the live block");
        Eventually.That(() => recorder.Retired.Any(r => r.Generation == 1), "generation 1 freed after its call returned");
        Eventually.That(() => !HasData(library.State!), "the state block freed after the generation");
        Assert.Multiple(() =>
        {
            Assert.That(HookLines(), Does.Contain("unload gen=1"), "the state was given back before the code went away");
            Assert.That(Directory.Exists(library.ShadowDirectory), Is.False, "the shadow directory removed at the end");
        });
    }

    [Test]
    public void Dispose_InsideACallScope_ReturnsAtOnce_AndFreesEverythingWhenTheScopeEnds()
    {
        var library = OpenProbe("state_probe_v1"); // default RetireTimeout: 10 s
        var recorder = new LibraryRecorder<ProbeExports>(library);
        var watch = Stopwatch.StartNew();
        using (var scope = library.Enter())
        {
            library.Dispose();
            watch.Stop();
            Assert.That(scope.Exports.GetMessage(), Is.EqualTo("probe v1"), "the scope still calls live code");
            Assert.That(HasData(library.State!), Is.True, "the block is kept while this scope is open");
        }

        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)), "Dispose does not wait for the scope around itself");
        Eventually.That(() => recorder.Retired.Any(r => r.Generation == 1), "generation 1 freed after the scope ended");
        Eventually.That(() => !HasData(library.State!), "the state block freed");
        Assert.That(HookLines(), Does.Contain("unload gen=1"));
    }

    // ---- defect 3 and 8: an exception inside the swap or the first load --------------------------------------------

    [Test]
    public void HugeStateSize_OnReload_IsRefused_AndTheLibraryKeepsServing_ThenTakesTheNextGoodBuild()
    {
        using var library = OpenProbe("state_probe_v1");
        Files.ReplaceByRename("state_probe_huge");

        ReloadOutcome outcome = ReloadOutcome.Loaded;
        Assert.DoesNotThrow(() => outcome = library.Reload());
        Assert.Multiple(() =>
        {
            Assert.That(outcome, Is.EqualTo(ReloadOutcome.Failed));
            Assert.That(library.LastFailure!.Detail, Does.Contain("asks for a state block of 4294967296 bytes"));
        });

        var call = Task.Run(() =>
        {
            using var scope = library.Enter();
            return scope.Exports.GetMessage();
        });
        Assert.That(call.Wait(Bounded), Is.True, "Enter() returns: the library was not left closed");
        Assert.That(call.Result, Is.EqualTo("probe v1"));

        Files.ReplaceByRename("state_probe_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        using (var scope = library.Enter())
        {
            Assert.That(scope.Exports.GetMessage(), Is.EqualTo("probe v2"));
        }
    }

    [Test]
    public void HugeStateSize_OnFirstLoad_ThrowsLibraryLoadException_AndLeavesNothingMapped()
    {
        using var dir = new LibraryDirectory("hugefirst");
        dir.ReplaceByRename("state_probe_huge");
        var e = Assert.Throws<LibraryLoadException>(() => _ = new ReloadableLibrary<ProbeExports>(dir.LibraryPath, ProbeExports.Bind,
            new ReloadableLibraryOptions { WatchForChanges = false }));
        Assert.That(e!.Reason, Is.EqualTo(ReloadFailureReason.InitFailed));
        if (OperatingSystem.IsLinux())
        {
            string copyStem = Path.GetFileNameWithoutExtension(dir.LibraryPath) + ".g1.";
            Assert.That(File.ReadAllLines("/proc/self/maps"), Has.None.Contains(copyStem), "generation 1 was unloaded");
        }
    }

    [Test]
    public void ThrowingLogger_DuringAPluginSwap_DoesNotStopTheLibrary()
    {
        var logger = new ThrowingLogger();
        using var library = OpenProbe("state_probe_v1", logger: logger);
        var recorder = new LibraryRecorder<ProbeExports>(library);
        logger.Armed = true;

        Files.ReplaceByRename("state_probe_v2");
        ReloadOutcome outcome = ReloadOutcome.Failed;
        Assert.DoesNotThrow(() => outcome = library.Reload());
        Assert.That(outcome, Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(recorder.Retired.Select(r => r.Generation), Is.EqualTo(new long[] { 1 }), "the old generation was freed");
        using (var scope = library.Enter())
        {
            Assert.That(scope.Exports.GetMessage(), Is.EqualTo("probe v2"));
        }

        Files.ReplaceByRename("state_probe_v1");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded), "later builds are still picked up");
        Assert.That(logger.Thrown, Is.GreaterThan(0), "the logger really threw");
    }

    // ---- defect 6: Current during a plugin swap --------------------------------------------------------------------

    [Test]
    public void Current_NeverThrows_WhilePluginSwapsRun()
    {
        using var library = OpenProbe("state_probe_v1");
        int disposedErrors = 0;
        long reads = 0;
        using var stop = new CancellationTokenSource();
        var reader = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    _ = library.Current;
                    reads++;
                }
                catch (ObjectDisposedException)
                {
                    disposedErrors++;
                }
            }
        }) { IsBackground = true };
        reader.Start();
        try
        {
            for (int i = 0; i < 300; i++)
            {
                Files.ReplaceByRename(i % 2 == 0 ? "state_probe_v2" : "state_probe_v1");
                Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded), library.LastFailure?.Message);
            }
        }
        finally
        {
            stop.Cancel();
            Assert.That(reader.Join(Bounded), Is.True);
        }

        Assert.That(disposedErrors, Is.Zero, $"Current threw ObjectDisposedException on a live library ({reads} reads)");
    }

    // ---- defect 7: the public State object survives growth --------------------------------------------------------

    [Test]
    public void State_IsTheSameObject_AfterAReloadGrowsTheBlock_AndKeepsItsContent()
    {
        using var library = OpenProbe("state_probe_v1");
        NativeReload.Plugins.StateBlock held = library.State!;
        ulong before = held.Size;
        byte[] content = held.Bytes.ToArray();

        Files.ReplaceByRename("state_probe_grown");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded), library.LastFailure?.Message);

        Assert.Multiple(() =>
        {
            Assert.That(library.State, Is.SameAs(held), "the block a host holds is the block the library uses");
            Assert.That(held.Size, Is.EqualTo(before + 4096));
            Assert.That(held.Bytes[24..].ToArray(), Is.EqualTo(content[24..].Concat(new byte[4096])), "the log path carried over, the rest zero-filled");
            Assert.That(BitConverter.ToInt64(held.Bytes[8..16]), Is.EqualTo(2), "loads counted across the growth (first load + reload)");
        });
    }

    // ---- defect 9: events outside locks ----------------------------------------------------------------------------

    [Test]
    public void ReloadedHandler_ThatWaitsForDisposeOnAnotherThread_DoesNotDeadlock()
    {
        var library = OpenGreeter(TimeSpan.FromSeconds(2));
        bool disposedInTime = false;
        library.Reloaded += (_, _) => disposedInTime = Task.Run(library.Dispose).Wait(TimeSpan.FromSeconds(3));

        Files.ReplaceByRename("greeter_v2");
        Task<ReloadOutcome> reload = Task.Run(library.Reload);
        Assert.That(reload.Wait(Bounded), Is.True, "the reload returned");
        Assert.That(disposedInTime, Is.True, "Dispose on another thread finished while the handler waited for it");
        Assert.Throws<ObjectDisposedException>(() => library.Enter());
    }

    [Test]
    public void ReloadedHandler_OnTheWatcherThread_ThatWaitsForDisposeOnAnotherThread_DoesNotDeadlock()
    {
        Files.ReplaceByRename("greeter_v1");
        var library = new ReloadableLibrary<GreeterExports>(Files.LibraryPath, GreeterExports.Bind);
        bool? disposedInTime = null;
        using var handled = new ManualResetEventSlim();
        library.Reloaded += (_, _) =>
        {
            disposedInTime = Task.Run(library.Dispose).Wait(TimeSpan.FromSeconds(3));
            handled.Set();
        };

        Files.ReplaceByRename("greeter_v2");
        Assert.That(handled.Wait(Bounded), Is.True, "the watcher reloaded and raised Reloaded");
        Assert.That(disposedInTime, Is.True, "Dispose on another thread finished while the watcher's handler waited for it");
        Assert.Throws<ObjectDisposedException>(() => library.Enter());
    }

    [Test]
    public void Dispose_FromInsideAReloadedHandler_OnTheReloadingThread_Completes_AndTwiceIsHarmless()
    {
        var library = OpenProbe("state_probe_v1");
        library.Reloaded += (_, _) => library.Dispose();
        Files.ReplaceByRename("state_probe_v2");
        Task<ReloadOutcome> reload = Task.Run(library.Reload);
        Assert.That(reload.Wait(Bounded), Is.True);
        Assert.That(reload.Result, Is.EqualTo(ReloadOutcome.Loaded));
        Assert.DoesNotThrow(library.Dispose);
        Assert.Throws<ObjectDisposedException>(() => _ = library.Current);
        Eventually.That(() => !Directory.Exists(library.ShadowDirectory), "nothing left in the shadow directory");
        Assert.That(HookLines(), Does.Contain("unload gen=2"), "the disposed generation gave its state back");
    }

    // ---- smaller ones ----------------------------------------------------------------------------------------------

    [Test]
    public void InfiniteRetireTimeout_WaitsForTheCallToReturn()
    {
        using var library = OpenGreeter(Timeout.InfiniteTimeSpan);
        var recorder = new LibraryRecorder<GreeterExports>(library);
        using var call = new CallInside<GreeterExports>(library);
        var releaser = Task.Run(async () =>
        {
            await Task.Delay(300);
            call.Release();
        });

        Files.ReplaceByRename("greeter_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(recorder.Retired.Select(r => r.Generation), Is.EqualTo(new long[] { 1 }),
            "Reload waited for the call and then freed generation 1");
        releaser.Wait(Bounded);
    }

    [Test]
    public void StuckGeneration_IsFreedWhenItsCallReturns_WithoutWaitingForDispose()
    {
        using var library = OpenGreeter(TimeSpan.FromMilliseconds(100));
        var recorder = new LibraryRecorder<GreeterExports>(library);
        using var call = new CallInside<GreeterExports>(library);

        Files.ReplaceByRename("greeter_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(recorder.Retired, Is.Empty, "kept while the call is inside");

        call.Release();
        call.Join();
        Eventually.That(() => recorder.Retired.Any(r => r.Generation == 1), "generation 1 freed once its call returned");
    }

    [Test]
    public void ScopeDisposedTwice_DoesNotEndTheScopeOpenedSinceAtTheSameDepth()
    {
        using var library = OpenGreeter(TimeSpan.FromMilliseconds(200));
        var recorder = new LibraryRecorder<GreeterExports>(library);
        GenerationScope<GreeterExports> first = library.Enter();
        first.Dispose();
        GenerationScope<GreeterExports> second = library.Enter();
        first.Dispose(); // a bug in the host: must not end `second`

        Files.ReplaceByRename("greeter_v2");
        Task<ReloadOutcome> reload = Task.Run(library.Reload);
        Assert.That(reload.Wait(Bounded), Is.True);
        Assert.That(reload.Result, Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(recorder.Retired, Is.Empty, "generation 1 is not freed while `second` is open");
        Assert.That(second.Exports.GetMessage(), Is.EqualTo("Hello from v1"));
        second.Dispose();
        Eventually.That(() => recorder.Retired.Any(r => r.Generation == 1), "freed after `second` ended");
    }

    /// <summary>A logger that throws from every call once armed: a careless host's logger.</summary>
    private sealed class ThrowingLogger : ILogger
    {
        public bool Armed { get; set; }

        public int Thrown { get; private set; }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (Armed)
            {
                Thrown++;
                throw new InvalidOperationException("the host's logger failed");
            }
        }
    }
}
