using Microsoft.Extensions.Logging;
using NativeReload.Reloading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Reloading;

/// <summary>
/// What the library tells the host's logger at each step: the lines an operator reads to know what happened (each
/// by its event id and the generation it names), delivered after the step, never lost.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class LogLinesTests
{
    private ProbeDirectory _probe = null!;

    [SetUp]
    public void SetUp() => _probe = new ProbeDirectory("logged");

    [TearDown]
    public void TearDown() => _probe.Dispose();

    [Test]
    public void LoadReloadFailAndFree_EachSayOneLine_WithTheGeneration()
    {
        var log = new RecordingLogger();
        var library = _probe.Open("state_probe_v1", logger: log);
        Assert.That(log.Ids(), Does.Contain(1), "first load");

        _probe.Files.ReplaceByRename("state_probe_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.Multiple(() =>
        {
            Assert.That(log.Lines(2), Has.One.Contains("generation 2"), "reloaded");
            Assert.That(log.Lines(9), Has.One.Contains("Generation 1").And.Contains("freed and unmapped"), "generation 1 freed");
            Assert.That(log.Lines(8), Is.Empty, "a plain C library does not stay mapped");
        });

        _probe.Files.ReplaceByRename("state_probe_huge");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));
        Assert.That(log.Lines(3), Has.One.Contains("asks for a state block").And.Contains("still running generation 2"), "reload failed");

        library.Dispose();
        Assert.That(log.Lines(9), Has.One.Contains("Generation 2"), "the last generation freed at dispose");
    }

    [Test]
    public void AGenerationThatStaysMappedAfterItsFree_IsSaidAsSuch()
    {
        if (!TestPaths.HasFixtureGroup("nodelete"))
        {
            Assert.Ignore("fixture group 'nodelete' is built on Linux only (DF_1_NODELETE is an ELF flag)");
        }

        var log = new RecordingLogger();
        using var dir = new LibraryDirectory("nodelete-log");
        dir.ReplaceByRename("nodelete_v1");
        using var library = new ReloadableLibrary<GreeterExports>(dir.LibraryPath, GreeterExports.Bind,
            new ReloadableLibraryOptions { WatchForChanges = false }, log);
        dir.ReplaceByRename("nodelete_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));

        Assert.That(log.Lines(8), Is.EqualTo(new[]
        {
            $"Generation 1 of {library.FilePath} stayed mapped after it was freed (thread-local destructors, unique symbols or NODELETE); its memory is kept until the process exits",
        }));
        Assert.That(log.Lines(9), Is.Empty);
    }

    [Test]
    public void PendingAtASafePoint_AndAGenerationKeptByACall_AreSaid()
    {
        var log = new RecordingLogger();
        var library = _probe.Open("state_probe_v1", new ReloadableLibraryOptions { ApplyMode = ApplyMode.AtSafePoint, RetireTimeout = TimeSpan.FromMilliseconds(100) }, log);
        _probe.Files.ReplaceByRename("state_probe_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(log.Lines(6), Has.One.Contains("Generation 2").And.Contains("next safe point"), "pending");

        using (library.Enter())
        {
            library.Dispose(); // this thread is inside: kept, said, freed when the scope ends
            Assert.That(log.Lines(13), Has.One.Contains("Dispose was called inside a call scope"), "kept on dispose, and why");
        }

        Eventually.That(() => log.Lines(14).Any(l => l.Contains("Generation 1", StringComparison.Ordinal)), "drained and freed, said once");
    }

    [Test]
    public void ACallThatOutlastsTheRetireTimeout_IsSaid_ThenTheLateFree()
    {
        _probe.Files.ReplaceByRename("greeter_v1");
        var log = new RecordingLogger();
        using var library = new ReloadableLibrary<GreeterExports>(_probe.Files.LibraryPath, GreeterExports.Bind,
            new ReloadableLibraryOptions { WatchForChanges = false, RetireTimeout = TimeSpan.FromMilliseconds(100) }, log);
        using var release = new ManualResetEventSlim();
        using var inside = new ManualResetEventSlim();
        var caller = new Thread(() =>
        {
            using var scope = library.Enter();
            inside.Set();
            release.Wait(TimeSpan.FromSeconds(10));
        }) { IsBackground = true };
        caller.Start();
        Assert.That(inside.Wait(TimeSpan.FromSeconds(10)), Is.True);

        _probe.Files.ReplaceByRename("greeter_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(log.Lines(7), Has.One.Contains("generation 1").And.Contains("stays loaded until it returns"), "retire timed out");
        release.Set();
        Assert.That(caller.Join(TimeSpan.FromSeconds(10)), Is.True);
        Eventually.That(() => log.Lines(14).Any(l => l.Contains("Generation 1", StringComparison.Ordinal)), "the late free said");
    }
}
