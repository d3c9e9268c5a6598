using NativeReload.ShadowCopying;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.ShadowCopying;

/// <summary>
/// The Unix set-up's failure paths (a root on a filesystem that ignores modes, a rename that fails), the implementation
/// for Unix systems the descriptor calls do not cover, and the once-per-root sweep of <see cref="ShadowCopyDirectory.Create"/>.
/// </summary>
[TestFixture]
[NonParallelizable]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class UnixShadowRootTests() : TemporaryRootFixture("nr-unix-root-", OperatingSystem.IsWindows() ? "Unix set-up" : null)
{
    private const int DirectoryLeftEvent = 22;
    private const int SweepUnavailableEvent = 26;

    [Test]
    public void Create_OnAFilesystemThatIgnoresModes_IsRefusedInOneLine_AndLeavesNothingBehind()
    {
        var system = new ModesIgnored();
        Assert.Throws<IOException>(() => system.Create(Root)); // first use opens the runtime's own descriptors
        int descriptors = Descriptors();

        IOException refused = Assert.Throws<IOException>(() => system.Create(Root))!;

        Assert.That(refused.Message, Is.EqualTo(
            $"{system.Staging}: cannot set up the shadow directory: it is accessible to other users (mode 777); "
            + "choose a root on a filesystem with Unix permissions"));
        Assert.That(Directory.GetFileSystemEntries(Root), Is.Empty, "the staging directory is removed");
        Assert.That(Descriptors(), Is.EqualTo(descriptors));
    }

    [Test]
    public void Create_WhenTheRenameIntoPlaceFails_ReleasesTheLock_RemovesTheStagingDirectory_AndSaysWhy()
    {
        var system = new FinalNameTaken();
        Assert.Throws<IOException>(() => system.Create(Root)); // first use opens the runtime's own descriptors
        File.Delete(system.Taken);
        int descriptors = Descriptors();

        IOException refused = Assert.Throws<IOException>(() => system.Create(Root))!;

        Assert.That(refused.Message, Does.StartWith($"{system.Staging}: cannot set up the shadow directory: "));
        Assert.That(refused.InnerException, Is.InstanceOf<IOException>());
        Assert.That(Directory.GetFileSystemEntries(Root), Is.EqualTo(new[] { system.Taken }), "only the entry that was in the way");
        Assert.That(Descriptors(), Is.EqualTo(descriptors), "the lock file's descriptor is closed");
    }

    [Test]
    public void Create_SweepsItsRootTheFirstTimeItIsUsed_AndOnlyThen()
    {
        string root = Path.Combine(Root, "fresh");
        Directory.CreateDirectory(root);
        string first = StaleShadowDirectory.Plant(root);

        using (ShadowCopyDirectory.Create(root))
        {
            Assert.That(Directory.Exists(first), Is.False, "the first Create in a root sweeps it");
        }

        string second = StaleShadowDirectory.Plant(root);
        using (ShadowCopyDirectory.Create(root))
        {
            Assert.That(Directory.Exists(second), Is.True, "later ones do not: nothing new is abandoned while we run");
        }
    }

    [Test]
    public void WithoutDescriptorCalls_NothingIsSwept_AndThatIsSaidOnce_AsAWarning()
    {
        string stale = StaleShadowDirectory.Plant(Root);
        var log = new RecordingLogger();
        var system = new UnsweptUnixShadowRoot();

        Assert.That(system.RemoveAbandoned(Root, log), Is.Zero);
        Assert.That(log.Lines(SweepUnavailableEvent), Has.Length.EqualTo(1), "said at the first sweep");
        Assert.That(system.RemoveAbandoned(Root, log), Is.Zero);

        Assert.That(Directory.Exists(stale), Is.True);
        string[] warnings = log.Lines(SweepUnavailableEvent);
        Assert.That(warnings, Has.Length.EqualTo(1), "and not again");
        Assert.That(warnings[0], Does.StartWith($"Not removing shadow directories left under {Root} by exited processes: descriptor-relative deletion is not implemented for "));
        Assert.That(warnings[0], Does.EndWith($"({IntPtr.Size * 8}-bit)"));
        Assert.That(log.Entries.Single().Level, Is.EqualTo(Microsoft.Extensions.Logging.LogLevel.Warning));
    }

    [Test]
    public void WithoutDescriptorCalls_OurOwnDirectoryIsStillCreatedLocked_AndRemovedAtDispose()
    {
        var system = new UnsweptUnixShadowRoot();
        string path;
        using (var shadows = ShadowCopyDirectory.CreateOn(system, Root, null))
        {
            path = shadows.Path;
            shadows.WriteCopy("libgreeter.so", 1, [1, 2, 3]);
            Directory.CreateDirectory(Path.Combine(path, "sub"));
            Assert.That(File.GetUnixFileMode(path), Is.EqualTo((UnixFileMode)0b111_000_000));
        }

        Assert.That(Directory.Exists(path), Is.False);
        Assert.That(system.TryRemoveReleased(path, out string reason), Is.EqualTo(SweepVerdict.Failed), "already gone: says so");
        Assert.That(reason, Does.Contain(path));
    }

    [TestCase("Failed", 10, true, TestName = "Dispose_RetriesAFailedRemovalTenTimes_ThenLeavesTheDirectoryAndSaysWhy")]
    [TestCase("NotOurs", 1, true, TestName = "Dispose_DoesNotRetryADirectoryThatIsNoLongerOurs_AndSaysWhy")]
    [TestCase("InUse", 1, false, TestName = "Dispose_LeavesADirectorySomeoneElseHasLocked_WithoutALine")]
    [TestCase("Removed", 1, false, TestName = "Dispose_StopsAtTheFirstRemoval")]
    public void Dispose_AsksTheSystemToRemoveTheDirectory_AndActsOnTheVerdict(string verdictName, int attempts, bool saysItWasLeft)
    {
        SweepVerdict verdict = Enum.Parse<SweepVerdict>(verdictName); // the enum is internal: a public test takes its name
        var system = new RemovalAnswers(verdict);
        var log = new RecordingLogger();
        var shadows = ShadowCopyDirectory.CreateOn(system, Root, log);

        shadows.Dispose();
        shadows.Dispose();

        Assert.That(system.Removals, Is.EqualTo(attempts), "and a second Dispose does nothing");
        Assert.That(log.Lines(DirectoryLeftEvent), saysItWasLeft
            ? Is.EqualTo(new[] { $"Shadow directory {shadows.Path} left for the next start: answer {verdict}" })
            : Is.Empty);
    }

    private static int Descriptors() => Directory.GetFiles("/proc/self/fd").Length;

    /// <summary>Answers every removal with one verdict, without removing anything.</summary>
    private sealed class RemovalAnswers(SweepVerdict verdict) : UnixShadowRoot
    {
        public int Removals { get; private set; }

        public override SweepVerdict TryRemoveReleased(string path, out string reason)
        {
            Removals++;
            reason = $"answer {verdict}";
            return verdict;
        }
    }

    /// <summary>What a vfat or some network mounts do: every directory shows mode 0777 whatever mkdtemp asked for.</summary>
    private sealed class ModesIgnored : UnixShadowRoot
    {
        public string Staging { get; private set; } = string.Empty;

        protected override string MakeStagingDirectory(string templateWithoutSuffix)
        {
            Staging = base.MakeStagingDirectory(templateWithoutSuffix);
            File.SetUnixFileMode(Staging, (UnixFileMode)0b111_111_111);
            return Staging;
        }
    }

    /// <summary>Something appears under the final name between mkdtemp and the rename.</summary>
    private sealed class FinalNameTaken : UnixShadowRoot
    {
        public string Staging { get; private set; } = string.Empty;

        public string Taken { get; private set; } = string.Empty;

        protected override void MoveIntoPlace(string staging, string path)
        {
            Staging = staging;
            Taken = path;
            File.WriteAllText(path, "in the way");
            base.MoveIntoPlace(staging, path);
        }
    }
}
