using NativeReload.ShadowCopying;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.ShadowCopying;

/// <summary>
/// The sweep of directories left by dead processes under a shared root: it removes only our own abandoned
/// directories, and never deletes anything through a symbolic link, whoever planted it and whenever.
/// </summary>
/// <remarks>
/// The tests run as root, so "another user" is simulated with <c>chown 65534</c>, and a link swapped into a
/// directory the sweep already checked is planted by the test itself (an attacker could not write into our 0700
/// directory, but the deletion must not depend on that).
/// </remarks>
[TestFixture]
[NonParallelizable]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class AbandonedSweepTests
{
    /// <summary>A pid no process can have (above every pid_max), so the old pid check says "dead".</summary>

    private const int VictimFiles = 50;

    private string _root = null!;
    private string _victim = null!;
    private string _away = null!;

    [SetUp]
    public void SetUp()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("Unix owners, modes and symbolic links");
        }

        _root = Directory.CreateTempSubdirectory("nr-sweep-root-").FullName;
        _victim = Directory.CreateTempSubdirectory("nr-sweep-victim-").FullName;
        _away = Directory.CreateTempSubdirectory("nr-sweep-away-").FullName;
        for (int i = 0; i < VictimFiles; i++)
        {
            File.WriteAllText(Path.Combine(_victim, $"precious{i:D2}.txt"), "keep me");
        }
    }

    [TearDown]
    public void TearDown()
    {
        foreach (string directory in new[] { _root, _victim, _away })
        {
            if (directory is not null && Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true); // .NET unlinks links here; the trees are ours
            }
        }
    }

    [Test]
    public void Sweep_RemovesOurOwnAbandonedDirectory()
    {
        string stale = StaleShadowDirectory.Plant(_root);
        File.WriteAllBytes(Path.Combine(stale, "libx.g1.0123456789abcdef.so"), [1, 2, 3]);

        Assert.That(ShadowCopyDirectory.RemoveAbandoned(_root), Is.EqualTo(1));
        Assert.That(Directory.Exists(stale), Is.False);
    }

    [TestCase(true, true, TestName = "Sweep_LeavesADirectoryOwnedByAnotherUser")]
    [TestCase(true, false, TestName = "Sweep_LeavesADirectoryOwnedByAnotherUser_EvenWithALockFileOfOurs")]
    [TestCase(false, true, TestName = "Sweep_LeavesADirectoryWhoseLockFileBelongsToAnotherUser")]
    public void Sweep_LeavesWhatAnotherUserOwns(bool directoryIsTheirs, bool lockFileIsTheirs)
    {
        string planted = StaleShadowDirectory.Plant(_root);
        string ownerFile = Path.Combine(planted, ".owner");
        foreach ((string entry, bool theirs) in new[] { (planted, directoryIsTheirs), (ownerFile, lockFileIsTheirs) })
        {
            if (theirs)
            {
                Assert.That(StaleShadowDirectory.LChown(entry, 65534, 65534), Is.Zero, $"chown {entry}");
            }
        }

        Assert.That(ShadowCopyDirectory.RemoveAbandoned(_root), Is.Zero);
        Assert.That(File.Exists(ownerFile), Is.True, "another user's directory is left untouched");
    }

    [Test]
    public void Sweep_LeavesADirectoryOtherUsersCanRead()
    {
        string planted = StaleShadowDirectory.Plant(_root, mode: (UnixFileMode)0b111_101_101); // 0755: not made by mkdtemp

        Assert.That(ShadowCopyDirectory.RemoveAbandoned(_root), Is.Zero);
        Assert.That(File.Exists(Path.Combine(planted, ".owner")), Is.True, "a directory that is not mode 0700 is not ours");
    }

    [Test]
    public void Sweep_LeavesADirectoryNotNamedExactlyLikeOurs()
    {
        // Owner-only, ours, lock file free: everything but the name. "nativereload-<pid>-anything" is not our naming.
        string planted = StaleShadowDirectory.Plant(_root, name: $"{ShadowCopyDirectory.DirectoryPrefix}{StaleShadowDirectory.DeadPid}-notours12");

        Assert.That(ShadowCopyDirectory.RemoveAbandoned(_root), Is.Zero);
        Assert.That(File.Exists(Path.Combine(planted, ".owner")), Is.True);
    }

    [Test]
    public void Sweep_LeavesADirectoryWithoutAnOwnerFile()
    {
        string planted = StaleShadowDirectory.Plant(_root, ownerFile: false);
        Directory.SetLastWriteTimeUtc(planted, DateTime.UtcNow.AddDays(-1));

        Assert.That(ShadowCopyDirectory.RemoveAbandoned(_root), Is.Zero);
        Assert.That(Directory.Exists(planted), Is.True, "no lock file: it cannot be proven abandoned");
    }

    [Test]
    public void Sweep_UnlinksASymlinkInsideAStaleDirectory_NeverItsTarget()
    {
        string stale = StaleShadowDirectory.Plant(_root);
        File.CreateSymbolicLink(Path.Combine(stale, "sub"), _victim);
        File.CreateSymbolicLink(Path.Combine(stale, "file.so"), Path.Combine(_victim, "precious00.txt"));

        Assert.That(ShadowCopyDirectory.RemoveAbandoned(_root), Is.EqualTo(1));
        Assert.That(Directory.Exists(stale), Is.False, "the links themselves are removed");
        Assert.That(VictimFilesLeft(), Is.EqualTo(VictimFiles), "nothing behind a link is deleted");
    }

    [Test]
    public void Sweep_NeverFollowsAStaleLookingNameThatIsItselfASymlink()
    {
        File.WriteAllText(Path.Combine(_victim, ".owner"), string.Empty); // lockable: looks abandoned through the link
        Directory.SetLastWriteTimeUtc(_victim, DateTime.UtcNow.AddDays(-1));
        string link = Path.Combine(_root, StaleShadowDirectory.Name() );
        File.CreateSymbolicLink(link, _victim);

        ShadowCopyDirectory.RemoveAbandoned(_root);
        Assert.That(VictimFilesLeft(), Is.EqualTo(VictimFiles), "the sweep never walks into a linked directory");
        Assert.That(File.Exists(Path.Combine(_victim, ".owner")), Is.True);
    }

    [Test]
    public void Sweep_NeverFollowsASubdirectorySwappedForASymlinkDuringTheSweep()
    {
        // The attack of issue 11: a stale-looking directory with many subdirectories; once the sweep has listed them,
        // each one is replaced by a link to the victim. Deleting by path would walk into the link.
        const int Runs = 5;
        const int Subdirectories = 60;
        int survived = 0;
        int totalSwaps = 0;
        var lost = new List<string>();
        for (int run = 0; run < Runs; run++)
        {
            string stale = StaleShadowDirectory.Plant(_root);
            string away = Directory.CreateDirectory(Path.Combine(_away, $"run{run}")).FullName;
            for (int d = 0; d < Subdirectories; d++)
            {
                string sub = Directory.CreateDirectory(Path.Combine(stale, $"d{d:D3}")).FullName;
                for (int f = 0; f < 4; f++)
                {
                    File.WriteAllBytes(Path.Combine(sub, $"f{f:D2}"), [1]);
                }
            }

            using var sweepDone = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            int swaps = 0;
            var swapper = new Thread(() => swaps = SwapSubdirectoriesForLinks(stale, away, Subdirectories, sweepDone.Token)) { IsBackground = true };
            swapper.Start();
            var sweepTime = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                ShadowCopyDirectory.RemoveAbandoned(_root);
            }
            finally
            {
                sweepDone.Cancel();
                Assert.That(swapper.Join(TimeSpan.FromSeconds(30)), Is.True, "the swapping thread stopped");
            }

            totalSwaps += swaps;
            int left = VictimFilesLeft();
            TestContext.Progress.WriteLine($"run {run}: sweep {sweepTime.ElapsedMilliseconds} ms, {swaps} subdirectories swapped for links, victim {left} of {VictimFiles} files");
            if (left == VictimFiles)
            {
                survived++;
            }
            else
            {
                lost.Add($"run {run}: {left} of {VictimFiles} files left");
                RestoreVictim();
            }

            if (Directory.Exists(stale))
            {
                Directory.Delete(stale, recursive: true); // links added after the sweep's listing may keep it; not a failure
            }
        }

        Assert.That(totalSwaps, Is.Positive, "the swapping thread really replaced subdirectories while the sweep ran");
        Assert.That(survived, Is.EqualTo(Runs), "the victim survived in every run; " + string.Join("; ", lost));
    }

    [Test]
    public void Sweep_NeverRemovesADirectoryWhileItsOwnerIsSettingItUp()
    {
        // A live owner between "directory created" and "lock taken" must not look abandoned: create and sweep race here.
        const int Creates = 1500;
        var failures = new List<string>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var sweeper = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                ShadowCopyDirectory.RemoveAbandoned(_root);
            }
        }) { IsBackground = true };
        sweeper.Start();
        try
        {
            for (int i = 0; i < Creates && !stop.IsCancellationRequested; i++)
            {
                try
                {
                    using ShadowCopyDirectory shadows = ShadowCopyDirectory.Create(_root);
                    string copy = shadows.WriteCopy("libx.so", i, [1, 2, 3]);
                    if (!File.Exists(copy) || !File.Exists(Path.Combine(shadows.Path, ".owner")))
                    {
                        failures.Add($"create {i}: {shadows.Path} was emptied while in use");
                    }
                }
                catch (IOException e)
                {
                    failures.Add($"create {i}: {e.Message}");
                }
            }
        }
        finally
        {
            stop.Cancel();
            Assert.That(sweeper.Join(TimeSpan.FromSeconds(30)), Is.True, "the sweeping thread stopped");
        }

        Assert.That(failures, Is.Empty, $"{failures.Count} of {Creates} directories in use were swept");
    }

    [Test]
    public void CreateAndDispose_FiftyTimes_LeaveTheOpenDescriptorCountFlat()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("/proc/self/fd");
        }

        using (ShadowCopyDirectory.Create(_root))
        {
            // warm-up: the first Create loads libc entry points and the regex
        }

        int before = Directory.GetFileSystemEntries("/proc/self/fd").Length;
        for (int i = 0; i < 50; i++)
        {
            using ShadowCopyDirectory shadows = ShadowCopyDirectory.Create(_root);
            shadows.WriteCopy("libx.so", i, [1]);
        }

        int after = Directory.GetFileSystemEntries("/proc/self/fd").Length;
        Assert.That(after - before, Is.LessThan(5), $"open descriptors {before} -> {after}: Dispose releases the lock file");
        Assert.That(Directory.GetFileSystemEntries(_root), Is.Empty, "every directory removed");
    }

    [Test]
    public void WriteCopy_CreatesTheCopyWithModeExactly0700()
    {
        using ShadowCopyDirectory shadows = ShadowCopyDirectory.Create(_root);
        string copy = shadows.WriteCopy("libx.so", 1, [1, 2, 3]);
        const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Assert.That(File.GetUnixFileMode(copy), Is.EqualTo(OwnerOnly), "rwx------: the loader can map it, nobody else can read it");
        Assert.That(File.GetUnixFileMode(shadows.Path), Is.EqualTo(OwnerOnly));
    }

    /// <summary>Replaces every subdirectory by a link to the victim, again and again, until the sweep is done.</summary>
    private int SwapSubdirectoriesForLinks(string stale, string away, int count, CancellationToken done)
    {
        int swaps = 0;
        for (int pass = 0; pass < 200 && !done.IsCancellationRequested; pass++)
        {
            for (int d = count - 1; d >= 0 && !done.IsCancellationRequested; d--)
            {
                string sub = Path.Combine(stale, $"d{d:D3}");
                try
                {
                    if (new DirectoryInfo(sub) is { Exists: true, LinkTarget: null })
                    {
                        Directory.Move(sub, Path.Combine(away, $"p{pass}d{d:D3}"));
                        File.CreateSymbolicLink(sub, _victim);
                        swaps++;
                    }
                }
                catch (IOException)
                {
                    // the sweep removed it first, or the stale directory is gone: try the next one
                }
            }
        }

        return swaps;
    }

    private int VictimFilesLeft() => Directory.GetFiles(_victim, "precious*").Length;

    private void RestoreVictim()
    {
        for (int i = 0; i < VictimFiles; i++)
        {
            File.WriteAllText(Path.Combine(_victim, $"precious{i:D2}.txt"), "keep me");
        }
    }
}
