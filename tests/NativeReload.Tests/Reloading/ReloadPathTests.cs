using NativeReload.Loading;
using NativeReload.Reloading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Reloading;

/// <summary>
/// Paths of one reload that mutation testing showed no other test drove (docs/testing.md): the safe point's events,
/// a superseded pending build, a manual reload of a half-written file on a watched library, failures said once and
/// cleared, a dispose from inside the bind callback, the host's own errors at the growth and rollback steps, and a
/// stuck generation whose <c>nr_unload</c> is still running when the library is disposed.
/// </summary>
[TestFixture]
[NonParallelizable]
[Platform("Linux", Reason = "the probe fixtures are POSIX-only; the mapping checks read /proc/self/maps")]
public sealed class ReloadPathTests
{
    private static readonly TimeSpan Bounded = TimeSpan.FromSeconds(10);
    private ProbeDirectory _probe = null!;

    private LibraryDirectory Files => _probe.Files;

    [SetUp]
    public void SetUp() => _probe = new ProbeDirectory("paths");

    [TearDown]
    public void TearDown()
    {
        NativeEnvironment.Set("STATE_PROBE_LOAD_RESULT", null);
        NativeEnvironment.Set("STATE_PROBE_UNLOAD_SLEEP", null);
        _probe.Dispose();
    }

    private ReloadableLibrary<GreeterExports> OpenGreeter(ReloadableLibraryOptions? options = null, Func<ExportResolver, GreeterExports>? bind = null)
    {
        Files.ReplaceByRename("greeter_v1");
        options ??= new ReloadableLibraryOptions();
        options.WatchForChanges = false;
        return new ReloadableLibrary<GreeterExports>(Files.LibraryPath, bind ?? GreeterExports.Bind, options);
    }

    private static string Message(ReloadableLibrary<GreeterExports> library)
    {
        using var scope = library.Enter();
        return scope.Exports.GetMessage();
    }

    [Test]
    public void ApplyPendingReload_RaisesReloaded_AndRetiresTheOldGeneration()
    {
        using var library = OpenGreeter(new ReloadableLibraryOptions { ApplyMode = ApplyMode.AtSafePoint });
        var recorder = new LibraryRecorder<GreeterExports>(library);
        Files.ReplaceByRename("greeter_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(recorder.Reloads, Is.Empty, "pending: nothing changed for callers yet");

        Assert.That(library.ApplyPendingReload(), Is.True);

        Assert.That(recorder.Reloads.Select(r => (r.PreviousGeneration, r.Generation)), Is.EqualTo(new[] { (1L, 2L) }));
        Assert.That(recorder.Retired.Select(r => r.Generation), Is.EqualTo(new long[] { 1 }), "generation 1 freed at the safe point");
        Assert.That(Message(library), Is.EqualTo("Hello from v2"));
        Assert.That(library.ApplyPendingReload(), Is.False, "nothing pending any more");
    }

    [Test]
    public void ASecondBuild_BeforeTheSafePoint_FreesTheFirstPendingOne()
    {
        using var library = OpenGreeter(new ReloadableLibraryOptions { ApplyMode = ApplyMode.AtSafePoint });
        var recorder = new LibraryRecorder<GreeterExports>(library);
        Files.ReplaceByRename("greeter_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        string supersededCopy = Directory.GetFiles(library.ShadowDirectory, "*.g2.*").Single();

        Files.ReplaceByRename("greeter_v1"); // differs from the pending build: a third generation
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));

        Assert.That(recorder.Retired.Select(r => r.Generation), Is.EqualTo(new long[] { 2 }), "the superseded pending generation is freed");
        Assert.That(File.Exists(supersededCopy), Is.False, "and its copy deleted");
        Assert.That(Mapped(supersededCopy), Is.False, "and unmapped");
        Assert.That(library.ApplyPendingReload(), Is.True);
        Assert.That(library.Current.Number, Is.EqualTo(3));
    }

    [Test]
    public void ManualReload_OfAHalfWrittenFile_OnAWatchedLibrary_IsReported_NotTakenForAWriteInProgress()
    {
        Files.ReplaceByRename("greeter_v1");
        using var library = new ReloadableLibrary<GreeterExports>(Files.LibraryPath, GreeterExports.Bind,
            new ReloadableLibraryOptions { WatchForChanges = true, SettleTimeout = TimeSpan.FromSeconds(30) });
        byte[] v2 = File.ReadAllBytes(TestPaths.Fixture("greeter_v2"));
        Files.ReplaceByRename(v2[..(v2.Length / 2)]); // the watcher waits for the rest; a caller of Reload() gets the answer now

        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));
        Assert.That(library.LastFailure, Is.Not.Null, "the failure is reported to the caller who asked");
        Assert.That(Message(library), Is.EqualTo("Hello from v1"));
    }

    [Test]
    public void Reload_OfAMissingFile_IsReported_AndTheLibraryKeepsServing()
    {
        using var library = OpenGreeter();
        var recorder = new LibraryRecorder<GreeterExports>(library);
        File.Delete(Files.LibraryPath);

        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));

        Assert.That(recorder.Failures, Has.Count.EqualTo(1));
        Assert.That(library.LastFailure!.Message, Does.Contain(Files.LibraryPath));
        Assert.That(Message(library), Is.EqualTo("Hello from v1"));
    }

    [Test]
    public void TheSameFailureTwice_IsSaidOnce_ADifferentOne_IsSaidAgain_AndTheServingBuildBack_ClearsIt()
    {
        using var library = OpenGreeter();
        var recorder = new LibraryRecorder<GreeterExports>(library);

        Files.ReplaceByRename("not a library at all"u8.ToArray());
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));
        Assert.That(recorder.Failures, Has.Count.EqualTo(1), "the same bytes failing the same way: said once");

        byte[] v2 = File.ReadAllBytes(TestPaths.Fixture("greeter_v2"));
        Files.ReplaceByRename(v2[..(v2.Length / 2)]);
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));
        Assert.That(recorder.Failures, Has.Count.EqualTo(2), "a different failure is said too");
        Assert.That(recorder.Failures.Last().Failure.Detail, Is.Not.EqualTo(recorder.Failures.First().Failure.Detail));

        Files.ReplaceByRename("greeter_v1");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Unchanged));
        Assert.That(library.LastFailure, Is.Null, "the serving build is back: nothing is failing any more");

        Files.ReplaceByRename("not a library at all"u8.ToArray());
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));
        Assert.That(recorder.Failures, Has.Count.EqualTo(3), "after it was cleared, the first failure is news again");
    }

    [Test]
    public void Dispose_FromInsideTheBindCallback_FreesTheGenerationThatWasLoading()
    {
        ReloadableLibrary<GreeterExports>? library = null;
        library = OpenGreeter(bind: exports =>
        {
            if (library is not null)
            {
                library.Dispose(); // a host that tears down from the callback of the build it is loading
            }

            return GreeterExports.Bind(exports);
        });
        var recorder = new LibraryRecorder<GreeterExports>(library);
        string shadow = library.ShadowDirectory;
        Files.ReplaceByRename("greeter_v2");

        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));

        Assert.That(recorder.Retired.Select(r => r.Generation), Is.EquivalentTo(new long[] { 1, 2 }), "both generations freed");
        Assert.That(MappedUnder(shadow), Is.Empty, "nothing of either copy is still mapped");
        Assert.That(Directory.Exists(shadow), Is.False);
    }

    [Test]
    public void Enter_AfterDispose_Throws_NamingTheFile()
    {
        var library = OpenGreeter();
        library.Dispose();
        var e = Assert.Throws<ObjectDisposedException>(() => library.Enter())!;
        Assert.That(e.Message, Does.Contain($"{Files.LibraryPath} was disposed"));
    }

    [Test]
    public void OutOfMemory_WhileGrowingTheBlock_RollsBack_WithTheHostsReason()
    {
        var options = new ReloadableLibraryOptions();
        using var library = _probe.Open("state_probe_v1", options);
        ulong size = library.State!.Size;
        options.FaultInjection = step =>
        {
            if (step == ReloadStep.StateGrowth)
            {
                throw new InsufficientMemoryException("injected"); // an OutOfMemoryException, as NativeMemory throws
            }
        };
        Files.ReplaceByRename("state_probe_grown");

        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));

        Assert.That(library.LastFailure!.Reason, Is.EqualTo(ReloadFailureReason.HostError));
        Assert.That(library.LastFailure.Detail, Is.EqualTo(
            $"cannot grow the state block from {size} to {size + 4096} bytes (injected); rolled back to generation 1 with its state"));
        using var scope = library.Enter();
        Assert.That(scope.Exports.GetMessage(), Is.EqualTo("probe v1"));
        Assert.That(scope.Exports.SlowTouch(0), Is.GreaterThan(0), "generation 1 took its state back");
    }

    [Test]
    public void AHostError_InTheRollback_IsLogged_AndTheOldGenerationServes()
    {
        var log = new RecordingLogger();
        var options = new ReloadableLibraryOptions
        {
            FaultInjection = step =>
            {
                if (step == ReloadStep.Rollback)
                {
                    throw new InvalidOperationException("injected at Rollback");
                }
            },
        };
        using var library = _probe.Open("state_probe_v1", options, log);
        NativeEnvironment.Set("STATE_PROBE_LOAD_RESULT", "1:3"); // the new build refuses: a rollback follows
        Files.ReplaceByRename("state_probe_v2");

        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));

        Assert.That(log.Entries.Where(e => e.EventId == 10).Select(e => e.Exception?.Message), Is.EqualTo(new[] { "injected at Rollback" }));
        Assert.That(library.LastFailure!.Detail, Is.EqualTo("nr_load returned 3; rolled back to generation 1 with its state"));
        Assert.That(library.Current.Exports.GetMessage(), Is.EqualTo("probe v1"));
    }

    [Test]
    public void Dispose_WhileACallOutlastsTheTimeout_SaysWhy()
    {
        var log = new RecordingLogger();
        var library = _probe.Open("state_probe_v1", new ReloadableLibraryOptions { RetireTimeout = TimeSpan.FromSeconds(1) }, log);
        using (new CallInside<ProbeExports>(library))
        {
            library.Dispose();

            Assert.That(log.Lines(13), Is.EqualTo(new[]
            {
                $"Generation 1 of {library.FilePath} is kept loaded after dispose, with its state block: a call is still inside it after 1 s. It is freed when the call returns",
            }));
            Assert.That(library.StuckGenerationCount, Is.EqualTo(1));
        }

        Eventually.That(() => library.StuckGenerationCount == 0, "freed when the call returned");
    }

    [Test]
    public void Dispose_WhileAStuckGenerationsUnloadRuns_AndAnotherDrains_FreesTheStateBlockOnlyAfterTheUnload()
    {
        // Two stuck generations: 1 (plain greeter, left by a plain swap while a call was inside) and 3 (the probe, kept
        // by Dispose while a call was inside; it holds the state block). Generation 3's nr_unload is slow; generation 1
        // drains while it runs, on another timer tick. The block must outlive that nr_unload.
        var library = OpenGreeter(new ReloadableLibraryOptions { RetireTimeout = TimeSpan.FromMilliseconds(50) });
        var recorder = new LibraryRecorder<GreeterExports>(library);
        using var inGeneration1 = new CallInside<GreeterExports>(library);
        Files.ReplaceByRename("greeter_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(library.StuckGenerationCount, Is.EqualTo(1), "generation 1 is stuck behind its call");
        NativeEnvironment.Set("STATE_PROBE_LOG", _probe.HookLog);
        Files.ReplaceByRename("state_probe_v1");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded), library.LastFailure?.Message);
        Assert.That(library.Current.Number, Is.EqualTo(3));
        NativeEnvironment.Set("STATE_PROBE_UNLOAD_SLEEP", "3:1500");
        var inGeneration3 = new CallInside<GreeterExports>(library);
        library.Dispose();
        Assert.That(library.StuckGenerationCount, Is.EqualTo(2));

        inGeneration3.Dispose(); // generation 3 drains: its nr_unload starts and takes 1.5 s
        Eventually.That(() => _probe.HookLines().Contains("unloading gen=3"), "generation 3's nr_unload is running");
        inGeneration1.Dispose(); // generation 1 drains on a later tick, while that nr_unload still runs
        Eventually.That(() => recorder.Retired.Any(r => r.Generation == 1), "generation 1 freed");

        Assert.That(_probe.HookLines(), Does.Not.Contain("unload gen=3"), "generation 3's nr_unload is still running");
        Assert.That(library.State!.IsFreed, Is.False, "so its state block is not freed under it");
        Eventually.That(() => library.State.IsFreed, "freed once the nr_unload returned");
        Assert.That(_probe.HookLines(), Does.Contain("unload gen=3"));
    }

    private static bool Mapped(string path) => File.ReadLines("/proc/self/maps").Any(l => l.EndsWith(path, StringComparison.Ordinal));

    private static string[] MappedUnder(string directory) =>
        File.ReadLines("/proc/self/maps").Where(l => l.Contains(directory, StringComparison.Ordinal)).ToArray();
}
