using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using NativeReload.ShadowCopying;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.ShadowCopying;

/// <summary>
/// One candidate of the sweep, judged by <see cref="UnixAbandonedDirectory.TryRemove"/>: every verdict and the exact
/// reason the log shows for it, and what is (and is not) removed.
/// </summary>
/// <remarks>The tests run as root: "another user" is uid 65534 set with <c>lchown</c>.</remarks>
[TestFixture]
[NonParallelizable]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed partial class UnixAbandonedDirectoryTests() : TemporaryRootFixture("nr-unix-abandoned-", OperatingSystem.IsWindows() ? "Unix descriptors" : null)
{
    private const int Nobody = 65534;
    private const int ENOENT = 2;

    [Test]
    public void ARegularFileUnderOurName_IsNotOurs_AsNotADirectory()
    {
        string name = StaleShadowDirectory.Name();
        File.WriteAllText(Path.Combine(Root, name), "someone's file");

        Assert.That(Judge(name, out string reason), Is.EqualTo(SweepVerdict.NotOurs));
        Assert.That(reason, Is.EqualTo("not a directory (a symbolic link or a file)"));
        Assert.That(File.Exists(Path.Combine(Root, name)), Is.True);
    }

    [Test]
    public void ASymlinkUnderOurName_IsNotOurs_AsNotADirectory_AndItsTargetIsUntouched()
    {
        string target = Directory.CreateDirectory(Path.Combine(Root, "target")).FullName;
        File.SetUnixFileMode(target, (UnixFileMode)0b111_000_000);
        File.WriteAllText(Path.Combine(target, ".owner"), string.Empty);
        string name = StaleShadowDirectory.Name();
        File.CreateSymbolicLink(Path.Combine(Root, name), target);

        Assert.That(Judge(name, out string reason), Is.EqualTo(SweepVerdict.NotOurs));
        Assert.That(reason, Is.EqualTo("not a directory (a symbolic link or a file)"));
        Assert.That(File.Exists(Path.Combine(target, ".owner")), Is.True);
    }

    [Test]
    public void AnEntryThatIsGone_IsNotOurs_AndTheReasonNamesTheError()
    {
        Assert.That(Judge(StaleShadowDirectory.Name(), out string reason), Is.EqualTo(SweepVerdict.NotOurs));
        Assert.That(reason, Is.EqualTo($"cannot open it ({Marshal.GetPInvokeErrorMessage(ENOENT)})"));
    }

    [Test]
    public void ADirectoryOfAnotherUser_IsNotOurs_AndTheReasonShowsItsOwnerAndMode()
    {
        string directory = StaleShadowDirectory.Plant(Root);
        Assert.That(StaleShadowDirectory.LChown(directory, Nobody, Nobody), Is.Zero);

        Assert.That(Judge(Path.GetFileName(directory), out string reason), Is.EqualTo(SweepVerdict.NotOurs));
        Assert.That(reason, Is.EqualTo($"owner uid {Nobody}, mode 700: only directories of uid {StaleShadowDirectory.Geteuid()} with mode 700 are ours"));
        Assert.That(File.Exists(Path.Combine(directory, ".owner")), Is.True);
    }

    [Test]
    public void ADirectoryOfAnotherMode_IsNotOurs_AndTheReasonShowsTheMode()
    {
        string directory = StaleShadowDirectory.Plant(Root, mode: (UnixFileMode)0b111_101_000); // 0750

        Assert.That(Judge(Path.GetFileName(directory), out string reason), Is.EqualTo(SweepVerdict.NotOurs));
        Assert.That(reason, Is.EqualTo($"owner uid {StaleShadowDirectory.Geteuid()}, mode 750: only directories of uid {StaleShadowDirectory.Geteuid()} with mode 700 are ours"));
        Assert.That(File.Exists(Path.Combine(directory, ".owner")), Is.True);
    }

    [Test]
    public void ADirectoryWithoutALockFile_IsNotOurs_AndKeepsItsFiles()
    {
        string directory = StaleShadowDirectory.Plant(Root, ownerFile: false);
        File.WriteAllBytes(Path.Combine(directory, "libx.so"), [1]);

        Assert.That(Judge(Path.GetFileName(directory), out string reason), Is.EqualTo(SweepVerdict.NotOurs));
        Assert.That(reason, Is.EqualTo($"no lock file ({Marshal.GetPInvokeErrorMessage(ENOENT)}); it cannot be proven abandoned"));
        Assert.That(File.Exists(Path.Combine(directory, "libx.so")), Is.True);
    }

    [Test]
    public void ALockFileThatIsASymlink_IsNeverFollowed_AndTheDirectoryIsNotOurs()
    {
        // The link points at a perfectly lockable file of ours: following it would "prove" the directory abandoned.
        string directory = StaleShadowDirectory.Plant(Root, ownerFile: false);
        string elsewhere = Path.Combine(Root, "lockable");
        File.WriteAllText(elsewhere, string.Empty);
        File.CreateSymbolicLink(Path.Combine(directory, ".owner"), elsewhere);
        File.WriteAllBytes(Path.Combine(directory, "libx.so"), [1]);

        Assert.That(Judge(Path.GetFileName(directory), out string reason), Is.EqualTo(SweepVerdict.NotOurs));
        Assert.That(reason, Does.StartWith("no lock file (").And.EndWith("); it cannot be proven abandoned"));
        Assert.That(File.Exists(Path.Combine(directory, "libx.so")), Is.True);
    }

    [Test]
    public void ALockFileThatIsADirectory_IsNotOurs()
    {
        string directory = StaleShadowDirectory.Plant(Root, ownerFile: false);
        Directory.CreateDirectory(Path.Combine(directory, ".owner"));
        File.WriteAllBytes(Path.Combine(directory, "libx.so"), [1]);

        Assert.That(Judge(Path.GetFileName(directory), out string reason), Is.EqualTo(SweepVerdict.NotOurs));
        Assert.That(reason, Is.EqualTo("its lock file is not a regular file of ours"));
        Assert.That(File.Exists(Path.Combine(directory, "libx.so")), Is.True);
    }

    [Test]
    public void ALockFileOfAnotherUser_IsNotOurs()
    {
        string directory = StaleShadowDirectory.Plant(Root);
        Assert.That(StaleShadowDirectory.LChown(Path.Combine(directory, ".owner"), Nobody, Nobody), Is.Zero);

        Assert.That(Judge(Path.GetFileName(directory), out string reason), Is.EqualTo(SweepVerdict.NotOurs));
        Assert.That(reason, Is.EqualTo("its lock file is not a regular file of ours"));
    }

    [Test]
    public void ALockFileThatIsAFifo_IsNotOurs_AndNeverBlocksTheSweep()
    {
        // Opening a FIFO for reading blocks until a writer comes, unless O_NONBLOCK: a planted FIFO must not hang us.
        string directory = StaleShadowDirectory.Plant(Root, ownerFile: false);
        string fifo = Path.Combine(directory, ".owner");
        Assert.That(MkFifo(fifo, 0b110_000_000), Is.Zero, "mkfifo");

        string reason = string.Empty;
        var judge = Task.Run(() => Judge(Path.GetFileName(directory), out reason));
        bool finished = judge.Wait(TimeSpan.FromSeconds(10));
        if (!finished)
        {
            using var writer = new FileStream(fifo, FileMode.Open, FileAccess.Write); // lets the blocked open return
        }

        Assert.That(finished, Is.True, "the sweep returned without waiting for a writer");
        Assert.That(judge.Result, Is.EqualTo(SweepVerdict.NotOurs));
        Assert.That(reason, Is.EqualTo("its lock file is not a regular file of ours"));
    }

    [Test]
    public void ALockHeldByALiveOwner_IsInUse_AndNothingIsRemoved()
    {
        string directory = StaleShadowDirectory.Plant(Root);
        File.WriteAllBytes(Path.Combine(directory, "libx.so"), [1]);
        using (new FileStream(Path.Combine(directory, ".owner"), FileMode.Open, FileAccess.ReadWrite, FileShare.None)) // flock(LOCK_EX)
        {
            Assert.That(Judge(Path.GetFileName(directory), out string reason), Is.EqualTo(SweepVerdict.InUse));
            Assert.That(reason, Is.EqualTo("in use"));
            Assert.That(File.Exists(Path.Combine(directory, "libx.so")), Is.True);
        }

        Assert.That(Judge(Path.GetFileName(directory), out string afterwards), Is.EqualTo(SweepVerdict.Removed), "once its owner let go");
        Assert.That(afterwards, Is.Empty);
    }

    [Test]
    public void NestedSubdirectories_AreRemovedWithTheirFiles()
    {
        string directory = StaleShadowDirectory.Plant(Root);
        string deepest = Directory.CreateDirectory(Path.Combine(directory, "a", "b", "c")).FullName;
        File.WriteAllBytes(Path.Combine(deepest, "f"), [1]);
        File.WriteAllBytes(Path.Combine(directory, "a", "g"), [1]);
        Directory.CreateDirectory(Path.Combine(directory, "empty"));

        Assert.That(Judge(Path.GetFileName(directory), out string reason), Is.EqualTo(SweepVerdict.Removed));
        Assert.That(reason, Is.Empty);
        Assert.That(Directory.Exists(directory), Is.False);
    }

    [Test]
    public void ASubdirectorySymlink_IsUnlinked_NotFollowed()
    {
        string target = Directory.CreateDirectory(Path.Combine(Root, "target")).FullName;
        File.WriteAllText(Path.Combine(target, "precious"), "keep me");
        string directory = StaleShadowDirectory.Plant(Root);
        Directory.CreateDirectory(Path.Combine(directory, "sub"));
        File.CreateSymbolicLink(Path.Combine(directory, "sub", "link"), target);

        Assert.That(Judge(Path.GetFileName(directory), out _), Is.EqualTo(SweepVerdict.Removed));
        Assert.That(Directory.Exists(directory), Is.False);
        Assert.That(File.Exists(Path.Combine(target, "precious")), Is.True);
    }

    [Test]
    public void SevenNestedLevels_AreRemoved()
    {
        string directory = StaleShadowDirectory.Plant(Root);
        string deepest = Directory.CreateDirectory(Path.Combine([directory, .. Levels(7)])).FullName;
        File.WriteAllBytes(Path.Combine(deepest, "f"), [1]);

        Assert.That(Judge(Path.GetFileName(directory), out string reason), Is.EqualTo(SweepVerdict.Removed), reason);
        Assert.That(Directory.Exists(directory), Is.False);
    }

    [Test]
    public void EightNestedLevels_AreNotWalked_AndTheSweepFailsKeepingTheLockFile()
    {
        string directory = StaleShadowDirectory.Plant(Root);
        Directory.CreateDirectory(Path.Combine([directory, .. Levels(8)]));

        Assert.That(Judge(Path.GetFileName(directory), out string reason), Is.EqualTo(SweepVerdict.Failed));
        Assert.That(reason, Is.EqualTo("d8: nested deeper than 8 levels"), "the innermost reason, not 'd1: directory not empty'");
        Assert.That(Directory.Exists(Path.Combine([directory, .. Levels(8)])), Is.True);
        Assert.That(File.Exists(Path.Combine(directory, ".owner")), Is.True, "what is left can still be proven abandoned");
    }

    [Test]
    public void ASubdirectoryOfAnotherUser_IsNotEntered_AndTheSweepFailsKeepingTheLockFile()
    {
        string directory = StaleShadowDirectory.Plant(Root);
        string theirs = Directory.CreateDirectory(Path.Combine(directory, "sub", "theirs")).FullName;
        File.WriteAllBytes(Path.Combine(theirs, "f"), [1]);
        Assert.That(StaleShadowDirectory.LChown(theirs, Nobody, Nobody), Is.Zero);

        // Many removable siblings: the first error must survive the entries removed after it (whatever the listing order).
        for (int i = 0; i < 20; i++)
        {
            File.WriteAllBytes(Path.Combine(directory, $"libx.g{i}.so"), [1]);
        }

        Assert.That(Judge(Path.GetFileName(directory), out string reason), Is.EqualTo(SweepVerdict.Failed));
        Assert.That(reason, Is.EqualTo($"theirs: not a directory of ours (uid {Nobody})"));
        Assert.That(File.Exists(Path.Combine(theirs, "f")), Is.True, "nothing in another user's directory is touched");
        Assert.That(File.Exists(Path.Combine(directory, ".owner")), Is.True, "the lock file stays for the next sweep");
    }

    private static IEnumerable<string> Levels(int count) => Enumerable.Range(1, count).Select(i => $"d{i}");

    private SweepVerdict Judge(string name, out string reason)
    {
        using SafeFileHandle? root = UnixDescriptors.OpenDirectory(Root, out int errno);
        Assert.That(root, Is.Not.Null, $"open {Root}: errno {errno}");
        return UnixAbandonedDirectory.TryRemove(root!, name, out reason);
    }

    [LibraryImport("libc", EntryPoint = "mkfifo", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int MkFifo(string path, int mode);
}
