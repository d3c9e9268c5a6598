using NativeReload.Reloading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Reloading;

[TestFixture]
[NonParallelizable]
public sealed class ReloadTests
{
    private LibraryDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new LibraryDirectory();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private ReloadableLibrary<GreeterExports> Open(ApplyMode mode = ApplyMode.Immediately, bool watch = true) =>
        new(_dir.LibraryPath, GreeterExports.Bind, new ReloadableLibraryOptions { ApplyMode = mode, WatchForChanges = watch });

    private static string Message(ReloadableLibrary<GreeterExports> library)
    {
        using var scope = library.Enter();
        return scope.Exports.GetMessage();
    }

    [TestCase("rename")]
    [TestCase("unlink-create")]
    [TestCase("in-place")]
    public void Reload_RunsNewCode_WhenFileIsReplaced(string how)
    {
        _dir.ReplaceByRename("greeter_v1");
        using var library = Open();
        Assert.That(Message(library), Is.EqualTo("Hello from v1"));

        switch (how)
        {
            case "rename": _dir.ReplaceByRename("greeter_v2"); break;
            case "unlink-create": _dir.ReplaceByUnlinkAndCreate("greeter_v2"); break;
            default: _dir.OverwriteInPlace("greeter_v2"); break;
        }

        Eventually.That(() => Message(library) == "Hello from v2", "the v2 message");
        Assert.That(library.Current.Number, Is.EqualTo(2));
        using var scope = library.Enter();
        Assert.That(scope.Exports.Add(1, 2), Is.EqualTo(2003), "add must come from v2 (bias 2000)");
    }

    [Test]
    public void Reload_OfTheSamePathTwentyTimes_AlwaysRunsTheNewestCode()
    {
        _dir.ReplaceByRename("greeter_v1");
        using var library = Open(watch: false);
        for (int i = 0; i < 20; i++)
        {
            string fixture = i % 2 == 0 ? "greeter_v2" : "greeter_v1";
            _dir.ReplaceByRename(fixture);
            Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded), $"reload {i}");
            using var scope = library.Enter();
            Assert.That(scope.Exports.Version, Is.EqualTo(i % 2 == 0 ? 2 : 1), $"reload {i}");
        }

        Assert.That(library.Current.Number, Is.EqualTo(21));
    }

    [Test]
    public void Reload_KeepsOldGeneration_WhenNewBuildLacksARequiredExport()
    {
        _dir.ReplaceByRename("greeter_v1");
        using var library = Open();
        var recorder = new LibraryRecorder<GreeterExports>(library);

        _dir.ReplaceByRename("greeter_nomsg");
        Eventually.That(() => !recorder.Failures.IsEmpty, "a reload failure");
        ReloadFailedEventArgs failure = recorder.Failures.Single();
        Assert.Multiple(() =>
        {
            Assert.That(failure.Reason, Is.EqualTo(ReloadFailureReason.MissingExport));
            Assert.That(failure.Detail, Does.Contain("get_message"));
            Assert.That(failure.FilePath, Is.EqualTo(_dir.LibraryPath));
            Assert.That(failure.RunningGeneration, Is.EqualTo(1));
            Assert.That(Message(library), Is.EqualTo("Hello from v1"));
        });

        _dir.ReplaceByRename("greeter_v3");
        Eventually.That(() => Message(library) == "Hello from v3", "the next good build");
        Assert.That(library.LastFailure, Is.Null);
    }

    [Test]
    public void Reload_IsSkipped_WhenFileIsTouchedButContentIsTheSame()
    {
        _dir.ReplaceByRename("greeter_v1");
        using var library = Open(watch: false);
        File.SetLastWriteTimeUtc(_dir.LibraryPath, DateTime.UtcNow.AddMinutes(1));
        _dir.ReplaceByRename("greeter_v1");

        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Unchanged));
        Assert.That(library.Current.Number, Is.EqualTo(1));
    }

    [Test]
    public void Watcher_DoesNotReload_WhenOnlyTheTimestampChanges()
    {
        _dir.ReplaceByRename("greeter_v1");
        using var library = Open();
        var recorder = new LibraryRecorder<GreeterExports>(library);
        File.SetLastWriteTimeUtc(_dir.LibraryPath, DateTime.UtcNow.AddMinutes(1));
        _dir.ReplaceByRename("greeter_v2");
        Eventually.That(() => recorder.Reloads.Count == 1, "the real change");
        File.SetLastWriteTimeUtc(_dir.LibraryPath, DateTime.UtcNow.AddMinutes(2));
        Thread.Sleep(600); // several poll intervals and quiet periods: a touch must not produce a generation
        Assert.That(recorder.Reloads, Has.Count.EqualTo(1));
        Assert.That(library.Current.Number, Is.EqualTo(2));
    }

    [Test]
    public void SafePoint_AppliesNewGeneration_OnlyWhenTheHostAsks()
    {
        _dir.ReplaceByRename("greeter_v1");
        using var library = Open(ApplyMode.AtSafePoint);
        _dir.ReplaceByRename("greeter_v2");
        Eventually.That(() => library.HasPendingReload, "a pending generation");

        Assert.That(library.Current.Exports.GetMessage(), Is.EqualTo("Hello from v1"), "no swap before the safe point");
        Assert.That(library.ApplyPendingReload(), Is.True);
        Assert.That(library.Current.Exports.GetMessage(), Is.EqualTo("Hello from v2"));
        Assert.That(library.ApplyPendingReload(), Is.False, "nothing pending any more");
    }

    [Test]
    public void Dispose_RemovesTheShadowDirectory()
    {
        _dir.ReplaceByRename("greeter_v1");
        var library = Open(watch: false);
        string shadow = library.ShadowDirectory;
        _dir.ReplaceByRename("greeter_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded), "a real reload, so two copies existed");
        Assert.That(Directory.GetFiles(shadow, "*" + Path.GetExtension(_dir.LibraryPath)), Has.Length.EqualTo(1), "only the current copy stays");

        library.Dispose();
        Assert.That(Directory.Exists(shadow), Is.False);
        Assert.Throws<ObjectDisposedException>(() => library.Enter());
    }

    [Test]
    public void FirstLoad_Throws_WithFileAndReason_WhenExportIsMissing()
    {
        _dir.ReplaceByRename("greeter_nomsg");
        var e = Assert.Throws<LibraryLoadException>(() => Open());
        Assert.That(e!.Message, Is.EqualTo($"{_dir.LibraryPath}: missing export get_message"));
        Assert.That(e.Reason, Is.EqualTo(ReloadFailureReason.MissingExport));
    }

    [Test]
    public void PlainCLibrary_IsReallyUnmapped_WhenRetired()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("only Linux tells whether a file is still mapped");
        }

        _dir.ReplaceByRename("greeter_v1");
        using var library = Open(watch: false);
        var recorder = new LibraryRecorder<GreeterExports>(library);
        _dir.ReplaceByRename("greeter_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(recorder.Retired.Single().Unmapped, Is.True);
    }
}
