using NativeReload.Calling;
using NativeReload.Reloading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Reloading;

/// <summary>
/// The lifecycle's bookkeeping, checked at every step (issue 16): what Dispose releases, the scope depth limit, the
/// events and copies of a plugin swap sequence, and that resources stay flat over many create/dispose cycles.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class LifecycleBookkeepingTests
{
    private LibraryDirectory _dir = null!;

    [SetUp]
    public void SetUp()
    {
        foreach (string group in new[] { "greeter", "counter", "state_probe" })
        {
            if (!TestPaths.HasFixtureGroup(group))
            {
                Assert.Fail($"the {group} fixtures were not built (build/fixtures/fixtures.txt)");
            }
        }

        _dir = new LibraryDirectory("bookkeeping");
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private static int CopiesIn(string shadowDirectory) =>
        Directory.Exists(shadowDirectory) ? Directory.GetFiles(shadowDirectory).Count(f => !f.EndsWith(".owner", StringComparison.Ordinal)) : 0;

    private static string[] MappedLinesUnder(string directory) =>
        OperatingSystem.IsLinux() ? File.ReadAllLines("/proc/self/maps").Where(l => l.Contains(directory, StringComparison.Ordinal)).ToArray() : [];

    [Test]
    public void Dispose_RetiresCurrentAndPending_RunsNrUnload_AndUnmapsEveryCopy()
    {
        string hookLog = Path.Combine(_dir.Path, "hooks.log");
        _dir.ReplaceByRename("state_probe_v1");
        var library = new ReloadableLibrary<ProbeExports>(_dir.LibraryPath, ProbeExports.Bind,
            new ReloadableLibraryOptions { WatchForChanges = false, ApplyMode = ApplyMode.AtSafePoint });
        var recorder = new LibraryRecorder<ProbeExports>(library);
        library.Current.Exports.SetLog(hookLog);
        _dir.ReplaceByRename("state_probe_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(library.HasPendingReload, Is.True);
        string shadow = library.ShadowDirectory;
        Assert.That(CopiesIn(shadow), Is.EqualTo(2), "current and pending copies");

        library.Dispose();

        Assert.Multiple(() =>
        {
            Assert.That(recorder.Retired.Select(r => r.Generation).Order(), Is.EqualTo(new long[] { 1, 2 }), "current and pending both retired");
            Assert.That(File.ReadAllLines(hookLog), Is.EqualTo(new[] { "unload gen=1" }), "the current generation gave its state back; the pending one never had it");
            Assert.That(Directory.Exists(shadow), Is.False, "shadow directory removed");
            Assert.That(MappedLinesUnder(shadow), Is.Empty, "no copy left mapped");
            Assert.That(library.State!.IsFreed, Is.True, "the state block freed");
            Assert.That(library.StuckGenerationCount, Is.Zero);
        });
    }

    [Test]
    public void Constructor_RefusesAnEmptyPathAndANullBindCallback()
    {
        Assert.Throws<ArgumentException>(() => _ = new ReloadableLibrary<GreeterExports>(string.Empty, GreeterExports.Bind));
        Assert.Throws<ArgumentNullException>(() => _ = new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, null!));
    }

    [Test]
    public void FirstLoadFailure_LeavesNoShadowDirectory()
    {
        string root = Directory.CreateTempSubdirectory("nativereload-root-").FullName;
        try
        {
            _dir.ReplaceByRename("greeter_nomsg");
            Assert.Throws<LibraryLoadException>(() => _ = new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, GreeterExports.Bind,
                new ReloadableLibraryOptions { WatchForChanges = false, ShadowRoot = root }));
            Assert.That(Directory.GetDirectories(root), Is.Empty, "the failed load's shadow directory was removed");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Test]
    public void SixteenNestedScopesWork_TheSeventeenthThrows_AndTheLibraryStillWorks()
    {
        _dir.ReplaceByRename("greeter_v1");
        using var library = new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, GreeterExports.Bind,
            new ReloadableLibraryOptions { WatchForChanges = false, RetireTimeout = TimeSpan.FromMilliseconds(100) });
        int deepest = Nest(library, 1);
        Assert.That(deepest, Is.EqualTo(ReaderSlots.MaxDepth));

        using (var scope = library.Enter())
        {
            Assert.That(scope.Exports.GetMessage(), Is.EqualTo("Hello from v1"), "usable after the refusal");
        }

        var recorder = new LibraryRecorder<GreeterExports>(library);
        _dir.ReplaceByRename("greeter_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(recorder.Retired.Select(r => r.Generation), Is.EqualTo(new long[] { 1 }), "no slot was left holding generation 1");
    }

    /// <summary>Opens scope <paramref name="depth"/> and the ones inside it; returns the deepest that opened.</summary>
    private static int Nest(ReloadableLibrary<GreeterExports> library, int depth)
    {
        using var scope = library.Enter();
        Assert.That(scope.Exports.Add(1, 1), Is.EqualTo(1002), $"a call at depth {depth}");
        if (depth < ReaderSlots.MaxDepth)
        {
            return Nest(library, depth + 1);
        }

        var e = Assert.Throws<InvalidOperationException>(() => library.Enter());
        Assert.That(e!.Message, Does.Contain($"More than {ReaderSlots.MaxDepth} generation scopes"));
        return depth;
    }

    [Test]
    public void PluginSwapSequence_EventsAndCopiesAtEachStep_AndTwoDifferentFailuresBothReported()
    {
        _dir.ReplaceByRename("counter_v1");
        using var library = new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, GreeterExports.Bind,
            new ReloadableLibraryOptions { WatchForChanges = false });
        var recorder = new LibraryRecorder<GreeterExports>(library);
        string shadow = library.ShadowDirectory;

        void Step(string fixture, ReloadOutcome outcome, int reloads, int failures, int retired, int version, string what)
        {
            _dir.ReplaceByRename(fixture);
            Assert.That(library.Reload(), Is.EqualTo(outcome), $"{what}: {library.LastFailure?.Message}");
            Assert.Multiple(() =>
            {
                Assert.That(recorder.Reloads, Has.Count.EqualTo(reloads), $"{what}: Reloaded events");
                Assert.That(recorder.Failures, Has.Count.EqualTo(failures), $"{what}: ReloadFailed events");
                Assert.That(recorder.Retired, Has.Count.EqualTo(retired), $"{what}: GenerationRetired events");
                Assert.That(CopiesIn(shadow), Is.EqualTo(1), $"{what}: only the serving copy on disk");
                Assert.That(library.Current.Exports.Version, Is.EqualTo(version), $"{what}: serving version");
            });
        }

        Step("counter_v2", ReloadOutcome.Loaded, 1, 0, 1, 2, "counter v1 → v2 (plugin → plugin)");
        Step("counter_failload", ReloadOutcome.Failed, 1, 1, 2, 2, "→ refusing nr_load (rollback)");
        Step("counter_abi2", ReloadOutcome.Failed, 1, 2, 2, 2, "→ another failure (ABI)");
        Step("greeter_v1", ReloadOutcome.Loaded, 2, 2, 3, 1, "→ plain greeter (plugin → no plugin)");
        Step("counter_v1", ReloadOutcome.Loaded, 3, 2, 4, 1, "→ counter again (no plugin → plugin)");

        Assert.That(recorder.Failures.Select(f => f.Reason), Is.EqualTo(new[] { ReloadFailureReason.InitFailed, ReloadFailureReason.AbiMismatch }));
        Assert.That(recorder.Reloads.Select(r => (r.PreviousGeneration, r.Generation)), Is.EqualTo(new[] { (1L, 2L), (2L, 4L), (4L, 5L) }),
            "a build refused by its nr_load used up number 3; one refused before loading used none");
    }

    [Test]
    public void FiftyCreateDisposeCycles_OfWatchedLibraries_LeaveThreadsAndFileDescriptorsFlat()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("counts threads and descriptors through /proc/self");
        }

        _dir.ReplaceByRename("greeter_v1");
        static int Threads() => Directory.GetDirectories("/proc/self/task").Length;
        static int Descriptors() => Directory.GetFiles("/proc/self/fd").Length;

        void Cycle()
        {
            using var library = new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, GreeterExports.Bind);
            using var scope = library.Enter();
            Assert.That(scope.Exports.GetMessage(), Is.EqualTo("Hello from v1"));
        }

        for (int i = 0; i < 5; i++)
        {
            Cycle(); // warm-up: thread pool, loader, logging
        }

        int threadsBefore = Threads();
        int fdsBefore = Descriptors();
        for (int i = 0; i < 50; i++)
        {
            Cycle();
        }

        // A leak is one thread or descriptor per cycle (50); a few come and go with the thread pool.
        Eventually.That(() => Threads() <= threadsBefore + 4, $"threads back near {threadsBefore} (now {Threads()})", TimeSpan.FromSeconds(10));
        Assert.That(Descriptors(), Is.LessThanOrEqualTo(fdsBefore + 4), $"descriptors: {fdsBefore} before");
    }
}
