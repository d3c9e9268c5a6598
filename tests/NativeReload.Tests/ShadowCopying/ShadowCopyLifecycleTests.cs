using System.Diagnostics;
using System.Runtime.InteropServices;
using NativeReload.ShadowCopying;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.ShadowCopying;

/// <summary>
/// What a host sees of its shadow directory: where it is made, the one sweep per root, the copies it can list and
/// delete, what Dispose leaves and says, and the log line for every verdict of a sweep.
/// </summary>
[TestFixture]
[NonParallelizable]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ShadowCopyLifecycleTests() : TemporaryRootFixture("nr-shadow-life-", OperatingSystem.IsWindows() ? "Unix modes and descriptors" : null)
{
    private const int Created = 20;
    private const int CopyNotDeleted = 21;
    private const int DirectoryLeft = 22;
    private const int AbandonedRemoved = 23;
    private const int AbandonedNotRemoved = 24;
    private const int Skipped = 25;

    [Test]
    public void Create_UnderARootThatDoesNotExistYet_MakesTheRoot_AndLogsTheDirectory()
    {
        string root = Path.Combine(Root, "not", "yet");
        var log = new RecordingLogger();

        using ShadowCopyDirectory shadows = ShadowCopyDirectory.Create(root, log);

        Assert.That(Path.GetDirectoryName(shadows.Path), Is.EqualTo(Path.GetFullPath(root)));
        Assert.That(Directory.Exists(shadows.Path), Is.True);
        Assert.That(log.Lines(Created), Is.EqualTo(new[] { $"Shadow directory {shadows.Path} created" }));
    }

    [Test]
    public void Create_SweepsItsRootOnce_ThenLeavesLaterLeftoversForTheNextProcess()
    {
        string first = StaleShadowDirectory.Plant(Root);
        var log = new RecordingLogger();

        using (ShadowCopyDirectory.Create(Root, log))
        {
            Assert.That(Directory.Exists(first), Is.False, "the first Create under a root sweeps it");
            Assert.That(log.Lines(AbandonedRemoved), Is.EqualTo(new[] { $"Removed shadow copies left by a process that exited: {first}" }));
        }

        string second = StaleShadowDirectory.Plant(Root);
        using (ShadowCopyDirectory.Create(Root))
        {
            Assert.That(Directory.Exists(second), Is.True, "a second Create under the same root does not sweep again");
        }

        Assert.That(ShadowCopyDirectory.RemoveAbandoned(Root), Is.EqualTo(1));
    }

    [Test]
    public void DefaultRoot_IsTheEnvironmentVariable_WhenSet_ElseTheTemporaryDirectory()
    {
        string? saved = Environment.GetEnvironmentVariable("NATIVERELOAD_SHADOW_ROOT");
        try
        {
            Environment.SetEnvironmentVariable("NATIVERELOAD_SHADOW_ROOT", Root);
            Assert.That(ShadowCopyDirectory.DefaultRoot(), Is.EqualTo(Root));
            Environment.SetEnvironmentVariable("NATIVERELOAD_SHADOW_ROOT", null);
            Assert.That(ShadowCopyDirectory.DefaultRoot(), Is.EqualTo(Path.GetTempPath()));
        }
        finally
        {
            Environment.SetEnvironmentVariable("NATIVERELOAD_SHADOW_ROOT", saved);
        }
    }

    [Test]
    public void WriteCopy_AfterDispose_ThrowsObjectDisposed()
    {
        ShadowCopyDirectory shadows = ShadowCopyDirectory.Create(Root);
        shadows.Dispose();

        Assert.Throws<ObjectDisposedException>(() => shadows.WriteCopy("libx.so", 1, [1]));
    }

    [Test]
    public void WriteCopy_KeepsTheStemAndExtension_AndListCopies_NamesEveryCopyButNotTheLockFile()
    {
        using ShadowCopyDirectory shadows = ShadowCopyDirectory.Create(Root);
        string first = shadows.WriteCopy("libgreeter.so", 3, [1, 2, 3]);
        string second = shadows.WriteCopy("libgreeter.so", 4, [4, 5]);

        Assert.That(Path.GetFileName(first), Does.Match(@"^libgreeter\.g3\.[0-9a-f]{16}\.so$"));
        Assert.That(File.ReadAllBytes(second), Is.EqualTo(new byte[] { 4, 5 }));
        Assert.That(shadows.ListCopies(), Is.EquivalentTo(new[] { first, second }));
    }

    [Test]
    public void ListCopies_AfterDispose_IsEmpty_AndDisposeSaysNothingWhenEverythingIsGone()
    {
        var log = new RecordingLogger();
        ShadowCopyDirectory shadows = ShadowCopyDirectory.Create(Root, log);
        shadows.WriteCopy("libx.so", 1, [1]);

        shadows.Dispose();
        shadows.Dispose(); // twice: harmless

        Assert.That(Directory.Exists(shadows.Path), Is.False);
        Assert.That(shadows.ListCopies(), Is.Empty);
        Assert.That(log.Lines(DirectoryLeft), Is.Empty);
    }

    [Test]
    public void TryDeleteCopy_RemovesTheCopy_AndSaysSo()
    {
        var log = new RecordingLogger();
        using ShadowCopyDirectory shadows = ShadowCopyDirectory.Create(Root, log);
        string copy = shadows.WriteCopy("libx.so", 1, [1]);

        Assert.That(shadows.TryDeleteCopy(copy), Is.True);
        Assert.That(File.Exists(copy), Is.False);
        Assert.That(log.Lines(CopyNotDeleted), Is.Empty);
    }

    [Test]
    public void TryDeleteCopy_WhenTheSystemRefuses_ReturnsFalse_AndLogsThePathAndReason()
    {
        var log = new RecordingLogger();
        using ShadowCopyDirectory shadows = ShadowCopyDirectory.Create(Root, log);
        string missingFolder = Path.Combine(shadows.Path, "gone", "libx.so"); // an IOException: its folder does not exist

        Assert.That(shadows.TryDeleteCopy(missingFolder), Is.False);
        string[] lines = log.Lines(CopyNotDeleted);
        Assert.That(lines, Has.Length.EqualTo(1));
        Assert.That(lines[0], Does.StartWith($"Shadow copy {missingFolder} not deleted yet: "));
    }

    [Test]
    public void Dispose_OfADirectoryNoLongerOwnerOnly_LeavesIt_SaysWhy_AndGivesUpAtOnce()
    {
        var log = new RecordingLogger();
        ShadowCopyDirectory shadows = ShadowCopyDirectory.Create(Root, log);
        string copy = shadows.WriteCopy("libx.so", 1, [1]);
        File.SetUnixFileMode(shadows.Path, (UnixFileMode)0b111_101_101); // 0755: no longer provably ours

        var time = Stopwatch.StartNew();
        shadows.Dispose();
        time.Stop();

        Assert.That(File.Exists(copy), Is.True, "a directory that is not provably ours is not emptied");
        Assert.That(log.Lines(DirectoryLeft), Is.EqualTo(new[]
        {
            $"Shadow directory {shadows.Path} left for the next start: owner uid {StaleShadowDirectory.Geteuid()}, mode 755: only directories of uid {StaleShadowDirectory.Geteuid()} with mode 700 are ours",
        }));
        Assert.That(time.ElapsedMilliseconds, Is.LessThan(300), "not ours is final: no retries (10 x 50 ms)");
    }

    [Test]
    public void RemoveAbandoned_LogsEachVerdict_AndCountsOnlyRemovals()
    {
        var log = new RecordingLogger();
        string removed = StaleShadowDirectory.Plant(Root);
        string failed = StaleShadowDirectory.Plant(Root);
        Directory.CreateDirectory(Path.Combine([failed, .. Enumerable.Range(1, 8).Select(i => $"d{i}")]));
        string notOurs = StaleShadowDirectory.Plant(Root, ownerFile: false);
        using ShadowCopyDirectory live = ShadowCopyDirectory.Create(Directory.CreateDirectory(Path.Combine(Root, "elsewhere")).FullName);
        string inUse = Path.Combine(Root, Path.GetFileName(live.Path));
        Directory.Move(live.Path, inUse); // still locked by the live instance

        try
        {
            Assert.That(ShadowCopyDirectory.RemoveAbandoned(Root, log), Is.EqualTo(1));

            Assert.That(log.Lines(AbandonedRemoved), Is.EqualTo(new[] { $"Removed shadow copies left by a process that exited: {removed}" }));
            Assert.That(log.Lines(AbandonedNotRemoved), Is.EqualTo(new[]
            {
                $"Could not remove abandoned shadow directory {failed}: d8: nested deeper than 8 levels",
            }));
            Assert.That(log.Lines(Skipped), Is.EqualTo(new[]
            {
                $"Left {notOurs} alone (not an abandoned shadow directory of ours): no lock file ({Marshal.GetPInvokeErrorMessage(2)}); it cannot be proven abandoned",
            }));
            Assert.That(log.Entries.Where(e => e.Message.Contains(inUse, StringComparison.Ordinal)), Is.Empty, "a directory in use is the normal case: no line");
            Assert.That(Directory.Exists(inUse) && Directory.Exists(failed) && Directory.Exists(notOurs), Is.True);
        }
        finally
        {
            Directory.Move(inUse, live.Path);
        }
    }

    [Test]
    public void RemoveAbandoned_OfARootThatDoesNotExist_RemovesNothing_AndDoesNotThrow()
    {
        Assert.That(ShadowCopyDirectory.RemoveAbandoned(Path.Combine(Root, "missing"), new RecordingLogger()), Is.Zero);
    }

    [Test]
    public void Dispose_AfterItsRootWasDeleted_DoesNotThrow_AndReportsNothingLeft()
    {
        var log = new RecordingLogger();
        string root = Directory.CreateDirectory(Path.Combine(Root, "doomed")).FullName;
        ShadowCopyDirectory shadows = ShadowCopyDirectory.Create(root, log);
        shadows.WriteCopy("libx.so", 1, [1]);
        Directory.Delete(root, recursive: true); // e.g. a temp cleaner removed it while the host ran

        Assert.DoesNotThrow(shadows.Dispose);
        Assert.That(log.Lines(DirectoryLeft), Is.Empty, "nothing is left to report");
    }

}
