using NativeReload.Reloading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Reloading;

/// <summary>
/// What the host does with each answer of the plugin hooks: <c>nr_load</c> refusing the first load, a reload or the
/// rollback, <c>nr_unload</c> reporting an error; and that the state block (a 48 MiB one, so glibc shows whether it
/// was given back) is never leaked on those paths. The probe's hooks answer what <c>STATE_PROBE_LOAD_RESULT</c> and
/// <c>STATE_PROBE_UNLOAD_RESULT</c> tell them (native/fixtures/state_probe.c).
/// </summary>
[TestFixture]
[NonParallelizable]
[Platform("Linux", Reason = "the probe fixtures are POSIX-only, and the memory check reads glibc's allocator statistics")]
public sealed class HookResultTests
{
    private const string LoadResult = "STATE_PROBE_LOAD_RESULT";
    private const string UnloadResult = "STATE_PROBE_UNLOAD_RESULT";
    private const string FallbackLog = "STATE_PROBE_LOG";
    private ProbeDirectory _probe = null!;

    [SetUp]
    public void SetUp() => _probe = new ProbeDirectory("hooks");

    [TearDown]
    public void TearDown()
    {
        NativeEnvironment.Set(LoadResult, null);
        NativeEnvironment.Set(UnloadResult, null);
        NativeEnvironment.Set(FallbackLog, null);
        _probe.Dispose();
    }

    [Test]
    public void FirstLoad_RefusedByNrLoad_ThrowsInitFailed_AndLeavesNoCopyNoMappingAndNoStateBlock()
    {
        string root = Directory.CreateTempSubdirectory("nr-hook-root-").FullName;
        try
        {
            _probe.Files.ReplaceByRename("state_probe_big");
            long before = GlibcHeap.MappedBytes();
            NativeEnvironment.Set(LoadResult, "0:5");

            var e = Assert.Throws<LibraryLoadException>(() => _ = new ReloadableLibrary<ProbeExports>(
                _probe.Files.LibraryPath, ProbeExports.Bind, new ReloadableLibraryOptions { WatchForChanges = false, ShadowRoot = root }))!;

            Assert.Multiple(() =>
            {
                Assert.That(e.Reason, Is.EqualTo(ReloadFailureReason.InitFailed));
                Assert.That(e.Detail, Is.EqualTo("nr_load returned 5 on the first load"));
                Assert.That(Directory.GetFileSystemEntries(root), Is.Empty, "the shadow directory and its copy are gone");
                Assert.That(MappedUnder(root), Is.Empty, "the refused copy was unloaded");
                Assert.That(GlibcHeap.MappedBytes() - before, Is.LessThan(GlibcHeap.Noise), "the 48 MiB state block was given back");
            });
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Test]
    public void Reload_RefusedByNrLoad_AndARollbackThatFailsToo_KeepsTheOldGenerationServing_AndSaysBoth()
    {
        var log = new RecordingLogger();
        NativeEnvironment.Set(FallbackLog, _probe.HookLog); // hooks called after nr_unload still log
        var library = _probe.Open("state_probe_v1", logger: log);
        NativeEnvironment.Set(LoadResult, "1:3,2:7");
        _probe.Files.ReplaceByRename("state_probe_v2");

        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));
        NativeEnvironment.Set(LoadResult, null);

        Assert.Multiple(() =>
        {
            Assert.That(library.LastFailure!.Detail, Is.EqualTo("nr_load returned 3; rolled back to generation 1 with its state"));
            Assert.That(log.Lines(15), Is.EqualTo(new[]
            {
                $"nr_load(NR_ROLLBACK) of generation 1 of {library.FilePath} returned 7; it serves again, but its state may not be as it was",
            }));
            Assert.That(library.Current.Number, Is.EqualTo(1));
            Assert.That(library.Current.Exports.GetMessage(), Is.EqualTo("probe v1"));
            Assert.That(Directory.GetFiles(library.ShadowDirectory).Count(f => !f.EndsWith(".owner", StringComparison.Ordinal)), Is.EqualTo(1),
                "the refused copy is deleted");
        });

        library.Dispose();
        Assert.That(_probe.HookLines().Count(l => l == "unload gen=1"), Is.EqualTo(1),
            "generation 1 gave its state back once, in the swap; its rollback failed, so it holds none and Dispose does not call nr_unload again");
    }

    [Test]
    public void Reload_RefusedByNrLoad_WithASuccessfulRollback_SaysOnlyTheRefusal()
    {
        var log = new RecordingLogger();
        using var library = _probe.Open("state_probe_v1", logger: log);
        NativeEnvironment.Set(LoadResult, "1:3");
        _probe.Files.ReplaceByRename("state_probe_v2");

        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));

        Assert.That(log.Lines(15), Is.Empty, "the rollback succeeded");
        Assert.That(log.Lines(3), Has.One.Contains("nr_load returned 3"));
        Assert.That(_probe.HookLines(), Does.Contain("load kind=2 gen=1"), "generation 1 took its state back");
    }

    [Test]
    public void Unload_ThatReturnsAnError_IsSaid_AndTheReloadGoesOn()
    {
        var log = new RecordingLogger();
        using var library = _probe.Open("state_probe_v1", logger: log);
        NativeEnvironment.Set(UnloadResult, "4");
        _probe.Files.ReplaceByRename("state_probe_v2");

        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));

        Assert.That(log.Lines(12), Is.EqualTo(new[] { $"nr_unload of generation 1 of {library.FilePath} returned 4" }));
        Assert.That(library.Current.Exports.GetMessage(), Is.EqualTo("probe v2"));
    }

    [Test]
    public void Unload_ThatSucceeds_SaysNothing()
    {
        var log = new RecordingLogger();
        using var library = _probe.Open("state_probe_v1", logger: log);
        _probe.Files.ReplaceByRename("state_probe_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(log.Lines(12), Is.Empty);
    }

    [Test]
    public void ApplyPendingReload_InsideACallScopeOnThisThread_IsRefused_WithTheReason_AndTheOldGenerationServes()
    {
        using var library = _probe.Open("state_probe_v1", new ReloadableLibraryOptions { ApplyMode = ApplyMode.AtSafePoint });
        var recorder = new LibraryRecorder<ProbeExports>(library);
        _probe.Files.ReplaceByRename("state_probe_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(library.HasPendingReload, Is.True);

        using (var scope = library.Enter())
        {
            Assert.That(library.ApplyPendingReload(), Is.False, "the hooks cannot run while this thread is inside generation 1");
            Assert.That(scope.Exports.GetMessage(), Is.EqualTo("probe v1"));
        }

        Assert.Multiple(() =>
        {
            Assert.That(library.LastFailure!.Reason, Is.EqualTo(ReloadFailureReason.InitFailed));
            Assert.That(library.LastFailure.Detail, Is.EqualTo(
                "this thread is inside generation 1 (a call scope is open around the safe point), so its state could not be handed over; reload abandoned"));
            Assert.That(recorder.Failures, Has.Count.EqualTo(1));
            Assert.That(library.HasPendingReload, Is.False, "the refused generation is dropped");
            Assert.That(recorder.Retired.Select(r => r.Generation), Is.EqualTo(new long[] { 2 }), "and freed");
            Assert.That(library.Current.Number, Is.EqualTo(1));
        });
    }

    [Test]
    public void Dispose_GivesTheStateBlockBack()
    {
        long before = GlibcHeap.MappedBytes();
        var library = _probe.Open("state_probe_big");
        Assert.That(GlibcHeap.MappedBytes() - before, Is.GreaterThanOrEqualTo((48 * GlibcHeap.MiB) - GlibcHeap.Noise), "the block is held while the library lives");

        library.Dispose();

        Assert.That(GlibcHeap.MappedBytes() - before, Is.LessThan(GlibcHeap.Noise));
        Assert.That(_probe.HookLines(), Does.Contain("unload gen=1"), "after nr_unload gave it back");
    }

    [Test]
    public void Reload_ThatWouldGrowTheBlock_RefusedByNrLoad_GivesTheGrownBufferBack_AndKeepsTheOldBlock()
    {
        using var library = _probe.Open("state_probe_v1");
        ulong size = library.State!.Size;
        long before = GlibcHeap.MappedBytes();
        NativeEnvironment.Set(LoadResult, "1:3");
        _probe.Files.ReplaceByRename("state_probe_big");

        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));

        Assert.That(GlibcHeap.MappedBytes() - before, Is.LessThan(GlibcHeap.Noise), "the 48 MiB growth the refused build was offered is freed");
        Assert.That(library.State.Size, Is.EqualTo(size), "the block keeps its size");
    }

    [Test]
    public void Reload_ThatWouldGrowTheBlock_FailingInTheHost_GivesTheGrownBufferBack()
    {
        var options = new ReloadableLibraryOptions();
        using var library = _probe.Open("state_probe_v1", options);
        long before = GlibcHeap.MappedBytes();
        options.FaultInjection = step =>
        {
            if (step == ReloadStep.LoadHook)
            {
                throw new InvalidOperationException("injected after the growth");
            }
        };
        _probe.Files.ReplaceByRename("state_probe_big");

        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));

        Assert.That(library.LastFailure!.Detail, Does.Contain("injected after the growth"));
        Assert.That(GlibcHeap.MappedBytes() - before, Is.LessThan(GlibcHeap.Noise));
    }

    private static string[] MappedUnder(string root) =>
        File.ReadLines("/proc/self/maps").Where(l => l.Contains(root, StringComparison.Ordinal)).ToArray();
}
