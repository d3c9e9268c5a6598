using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using NativeReload.ShadowCopying;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.ShadowCopying;

/// <summary>
/// <see cref="UnixAbandonedDirectory.TryRemove"/> when a libc call fails or the disk changes mid-sweep: the verdict,
/// the exact reason the log shows, and what is left on disk. The failures are injected with <see cref="FaultyUnixCalls"/>
/// because none of these calls fails on its own here (the tests run as root).
/// </summary>
[TestFixture]
[NonParallelizable]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SweepFailureTests() : TemporaryRootFixture("nr-sweep-failure-", OperatingSystem.IsLinux() ? null : "statx layout and /proc/self/fd")
{
    private const int EIO = 5;
    private const int EACCES = 13;
    private const int EBUSY = 16;
    private const int ENOTDIR = 20;
    private const int EMFILE = 24;
    private const int ENOLCK = 37;
    private const int ELOOP = 40; // Linux
    private const ushort STATX_MODE_OFFSET = 28;
    private const string UnreadableOwner = "its owner and mode cannot be read reliably (stat failed, or disagrees with .NET's)";

    private string _directory = null!;
    private string _name = null!;
    private FaultyUnixCalls _calls = null!;

    [SetUp]
    public void SetUp()
    {
        _directory = StaleShadowDirectory.Plant(Root);
        _name = Path.GetFileName(_directory);
        _calls = FaultyUnixCalls.Install();
    }

    [TearDown]
    public void TearDown()
    {
        _calls?.Dispose();
    }

    [Test]
    public void ALockThatFailsForAnotherReasonThanBeingHeld_IsNotOurs_AndNothingIsRemoved()
    {
        string library = Library(_directory);
        _calls.Fail(UnixCall.Flock, ENOLCK, name: ".owner");

        Assert.That(Judge(out string reason), Is.EqualTo(SweepVerdict.NotOurs), "not 'in use': nobody was seen holding it");
        Assert.That(reason, Is.EqualTo($"cannot lock it ({Message(ENOLCK)})"));
        Assert.That(File.Exists(library), Is.True);
        Assert.That(File.Exists(LockFile), Is.True);
    }

    [Test]
    public void ALockFileThatCannotBeRemoved_FailsTheSweep_NamingTheLockFile_AndKeepsIt()
    {
        string library = Library(_directory);
        _calls.Fail(UnixCall.Unlink, EACCES, name: ".owner");

        Assert.That(Judge(out string reason), Is.EqualTo(SweepVerdict.Failed));
        Assert.That(reason, Is.EqualTo($".owner: {Message(EACCES)}"), "the cause, not the rmdir's 'Directory not empty' it led to");
        Assert.That(File.Exists(library), Is.False, "the contents went first");
        Assert.That(Directory.GetFileSystemEntries(_directory), Is.EqualTo(new[] { LockFile }));
    }

    [Test]
    public void ALockFileGoneBeforeItsRemoval_IsNoError()
    {
        _calls.Before(UnixCall.Unlink, () => File.Delete(LockFile), name: ".owner");

        Assert.That(Judge(out string reason), Is.EqualTo(SweepVerdict.Removed));
        Assert.That(reason, Is.Empty);
        Assert.That(Directory.Exists(_directory), Is.False);
    }

    [Test]
    public void ADirectoryThatCannotBeRemoved_FailsTheSweep_WithTheRmdirError()
    {
        Library(_directory);
        _calls.Fail(UnixCall.RemoveDirectory, EBUSY, name: _name);

        Assert.That(Judge(out string reason), Is.EqualTo(SweepVerdict.Failed));
        Assert.That(reason, Is.EqualTo(Message(EBUSY)));
        Assert.That(Directory.GetFileSystemEntries(_directory), Is.Empty, "emptied, the lock file included; only the rmdir failed");
    }

    [Test]
    public void TheLockFile_IsClosedBeforeTheDirectoryIsRemoved()
    {
        // An unlinked file still open stays on NFS as .nfsXXXX, and the rmdir then fails with "Directory not empty".
        string[]? openAtRmdir = null;
        _calls.Before(UnixCall.RemoveDirectory, () => openAtRmdir = OpenPaths(), name: _name);

        Assert.That(Judge(out _), Is.EqualTo(SweepVerdict.Removed));
        Assert.That(openAtRmdir, Is.Not.Null, "rmdir was called");
        Assert.That(openAtRmdir!.Where(path => path.StartsWith(LockFile, StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public void AFileThatCannotBeUnlinked_FailsTheSweep_NamingIt_AndKeepsTheLockFile()
    {
        string library = Library(_directory);
        _calls.Fail(UnixCall.Unlink, EACCES, name: Path.GetFileName(library));

        Assert.That(Judge(out string reason), Is.EqualTo(SweepVerdict.Failed));
        Assert.That(reason, Is.EqualTo($"libx.so: {Message(EACCES)}"));
        Assert.That(File.Exists(library), Is.True);
        Assert.That(File.Exists(LockFile), Is.True, "what is left can still be proven abandoned");
    }

    [TestCase(nameof(UnixCall.Open), EACCES, TestName = "ARootThatCannotBeOpened_IsNotSwept_AndTheSweepDoesNotThrow")]
    [TestCase(nameof(UnixCall.Dup), EMFILE, TestName = "ARootThatCannotBeListed_IsNotSwept_AndTheSweepDoesNotThrow")]
    public void ARootThatCannotBeRead_IsNotSwept_AndTheSweepDoesNotThrow(string failingCall, int errno)
    {
        _calls.Fail(Enum.Parse<UnixCall>(failingCall), errno);

        Assert.That(ShadowCopyDirectory.RemoveAbandoned(Root), Is.Zero);
        Assert.That(File.Exists(LockFile), Is.True);
        Assert.That(_calls.Count(UnixCall.OpenAt), Is.Zero, "nothing under it was looked at");
    }

    [Test]
    public void Dispose_WhenTheRootCannotBeOpened_LeavesItsDirectory_AndSaysWhy()
    {
        var log = new RecordingLogger();
        var shadows = ShadowCopyDirectory.Create(Root, log);
        int opensBefore = _calls.Count(UnixCall.Open); // Create's own sweep of the root
        _calls.Fail(UnixCall.Open, EACCES);

        shadows.Dispose();

        Assert.That(Directory.Exists(shadows.Path), Is.True);
        Assert.That(log.Lines(22), Is.EqualTo(new[] { $"Shadow directory {shadows.Path} left for the next start: {Message(EACCES)}" }));
        Assert.That(_calls.Count(UnixCall.Open) - opensBefore, Is.EqualTo(10), "retried like any failed removal");
    }

    [Test]
    public void ADirectoryThatCannotBeListed_FailsTheSweep_KeepingEverything()
    {
        string library = Library(_directory);
        _calls.Fail(UnixCall.Dup, EMFILE, name: _name);

        Assert.That(Judge(out string reason), Is.EqualTo(SweepVerdict.Failed));
        Assert.That(reason, Is.EqualTo($"dup: {Message(EMFILE)}"));
        Assert.That(File.Exists(library), Is.True);
        Assert.That(File.Exists(LockFile), Is.True);
    }

    [Test]
    public void ADirectoryWhoseOwnerCannotBeRead_IsNotOurs()
    {
        string library = Library(_directory);
        _calls.Fail(UnixCall.Stat, EIO, name: _name);

        Assert.That(Judge(out string reason), Is.EqualTo(SweepVerdict.NotOurs));
        Assert.That(reason, Is.EqualTo(UnreadableOwner));
        Assert.That(File.Exists(library), Is.True);
    }

    [Test]
    public void ADirectoryWhoseStatxModeDisagreesWithDotNet_IsNotOurs_EvenWhenItReadsAsOurs()
    {
        // The layout guard: statx says 0700 (as a wrong offset could), .NET's fstat says 0750: trust neither, remove nothing.
        File.SetUnixFileMode(_directory, (UnixFileMode)0b111_101_000);
        string library = Library(_directory);
        _calls.EditStat(SetPermissions(0b111_000_000), name: _name);

        Assert.That(Judge(out string reason), Is.EqualTo(SweepVerdict.NotOurs));
        Assert.That(reason, Is.EqualTo(UnreadableOwner), "not 'mode 700: only mode 700 is ours', which contradicts itself");
        Assert.That(File.Exists(library), Is.True);
        Assert.That(File.Exists(LockFile), Is.True);
    }

    [Test]
    public void ASubdirectoryWhoseOwnerCannotBeRead_IsNotEntered_AndTheSweepFails()
    {
        string file = Library(Subdirectory());
        _calls.Fail(UnixCall.Stat, EIO, name: "sub");

        Assert.That(Judge(out string reason), Is.EqualTo(SweepVerdict.Failed));
        Assert.That(reason, Is.EqualTo($"sub: {UnreadableOwner}"));
        Assert.That(File.Exists(file), Is.True);
        Assert.That(File.Exists(LockFile), Is.True);
    }

    [Test]
    public void ASubdirectoryWhoseStatxModeDisagreesWithDotNet_IsNotEntered()
    {
        string sub = Subdirectory();
        File.SetUnixFileMode(sub, (UnixFileMode)0b111_101_101); // 0755
        string file = Library(sub);
        _calls.EditStat(SetPermissions(0b111_101_000), name: "sub"); // statx says 0750

        Assert.That(Judge(out string reason), Is.EqualTo(SweepVerdict.Failed));
        Assert.That(reason, Is.EqualTo($"sub: {UnreadableOwner}"));
        Assert.That(File.Exists(file), Is.True);
    }

    [Test]
    public void ASubdirectorySwappedForALinkBeforeItIsOpened_IsUnlinkedAsALink_AndItsTargetIsUntouched()
    {
        string sub = Subdirectory();
        string file = Library(sub);
        string moved = Path.Combine(Root, "moved");
        _calls.Before(
            UnixCall.OpenAt,
            () =>
            {
                Directory.Move(sub, moved);
                File.CreateSymbolicLink(sub, moved);
            },
            name: "sub",
            times: 1);

        Assert.That(Judge(out string reason), Is.EqualTo(SweepVerdict.Removed), reason);
        Assert.That(Directory.Exists(_directory), Is.False);
        Assert.That(File.Exists(Path.Combine(moved, Path.GetFileName(file))), Is.True, "the link's target is never entered");
        Assert.That(_calls.Count(UnixCall.Unlink, "sub"), Is.EqualTo(2), "once as a directory (EISDIR), once as the link");
        Assert.That(_calls.Count(UnixCall.OpenAt, "sub"), Is.EqualTo(1), "the link is unlinked, never opened");
    }

    [TestCase(ELOOP)]
    [TestCase(ENOTDIR)]
    public void ASubdirectoryThatKeepsTurningIntoALink_IsGivenUpAfterFourAttempts(int errno)
    {
        string file = Library(Subdirectory());
        _calls.Fail(UnixCall.OpenAt, errno, name: "sub", times: 4); // a fifth attempt would succeed

        Assert.That(Judge(out string reason), Is.EqualTo(SweepVerdict.Failed));
        Assert.That(reason, Is.EqualTo("sub: changed while it was being removed"));
        Assert.That(_calls.Count(UnixCall.OpenAt, "sub"), Is.EqualTo(4));
        Assert.That(_calls.Count(UnixCall.Unlink, "sub"), Is.EqualTo(4));
        Assert.That(File.Exists(file), Is.True);
        Assert.That(File.Exists(LockFile), Is.True);
    }

    [Test]
    public void ASubdirectoryThatVanishesBeforeItIsOpened_IsNoError()
    {
        string sub = Subdirectory();
        Library(sub);
        _calls.Before(UnixCall.OpenAt, () => Directory.Delete(sub, recursive: true), name: "sub");

        Assert.That(Judge(out string reason), Is.EqualTo(SweepVerdict.Removed), reason);
        Assert.That(Directory.Exists(_directory), Is.False);
    }

    [Test]
    public void ASubdirectoryThatCannotBeOpened_FailsTheSweep_NamingItAndTheError()
    {
        string file = Library(Subdirectory());
        _calls.Fail(UnixCall.OpenAt, EACCES, name: "sub");

        Assert.That(Judge(out string reason), Is.EqualTo(SweepVerdict.Failed));
        Assert.That(reason, Is.EqualTo($"sub: {Message(EACCES)}"));
        Assert.That(_calls.Count(UnixCall.OpenAt, "sub"), Is.EqualTo(1), "not retried: only a link or a file is");
        Assert.That(File.Exists(file), Is.True);
        Assert.That(File.Exists(LockFile), Is.True);
    }

    [Test]
    public void ASubdirectoryReplacedAfterItWasEmptied_IsRemovedOnTheNextRound()
    {
        Library(Subdirectory());
        _calls.Fail(UnixCall.RemoveDirectory, ENOTDIR, name: "sub", times: 1);

        Assert.That(Judge(out string reason), Is.EqualTo(SweepVerdict.Removed), reason);
        Assert.That(Directory.Exists(_directory), Is.False);
        Assert.That(_calls.Count(UnixCall.RemoveDirectory, "sub"), Is.EqualTo(2));
    }

    [Test]
    public void ASubdirectoryThatKeepsBeingReplaced_IsGivenUpAfterFourAttempts()
    {
        string sub = Subdirectory();
        _calls.Fail(UnixCall.RemoveDirectory, ENOTDIR, name: "sub");

        Assert.That(Judge(out string reason), Is.EqualTo(SweepVerdict.Failed));
        Assert.That(reason, Is.EqualTo("sub: kept changing while it was being removed"));
        Assert.That(_calls.Count(UnixCall.RemoveDirectory, "sub"), Is.EqualTo(4));
        Assert.That(Directory.Exists(sub), Is.True);
        Assert.That(File.Exists(LockFile), Is.True);
    }

    [Test]
    public void ASubdirectoryThatCannotBeRemoved_FailsTheSweep_WithTheRmdirError()
    {
        string sub = Subdirectory();
        string file = Library(sub);
        _calls.Fail(UnixCall.RemoveDirectory, EBUSY, name: "sub");

        Assert.That(Judge(out string reason), Is.EqualTo(SweepVerdict.Failed));
        Assert.That(reason, Is.EqualTo($"sub: {Message(EBUSY)}"));
        Assert.That(_calls.Count(UnixCall.RemoveDirectory, "sub"), Is.EqualTo(1), "not retried: only ENOTDIR is");
        Assert.That(File.Exists(file), Is.False, "its contents went");
        Assert.That(Directory.Exists(sub), Is.True);
        Assert.That(File.Exists(LockFile), Is.True);
    }

    private string LockFile => Path.Combine(_directory, ShadowCopyDirectory.OwnerFileName);

    private static string Message(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    private static string Library(string directory)
    {
        string path = Path.Combine(directory, "libx.so");
        File.WriteAllBytes(path, [1]);
        return path;
    }

    private string Subdirectory() => Directory.CreateDirectory(Path.Combine(_directory, "sub")).FullName;

    /// <summary>Replaces the permission bits statx reported (<c>stx_mode</c>), keeping the file type.</summary>
    private static unsafe Action<nint> SetPermissions(int permissions) => buffer =>
    {
        ushort* mode = (ushort*)(buffer + STATX_MODE_OFFSET);
        *mode = (ushort)((*mode & 0xF000) | permissions);
    };

    /// <summary>What every open descriptor of this process points at.</summary>
    private static string[] OpenPaths() =>
        [.. Directory.GetFileSystemEntries("/proc/self/fd").Select(fd => new FileInfo(fd).LinkTarget ?? string.Empty)];

    private SweepVerdict Judge(out string reason)
    {
        using SafeFileHandle? root = UnixDescriptors.OpenDirectory(Root, out int errno);
        Assert.That(root, Is.Not.Null, $"open {Root}: errno {errno}");
        return UnixAbandonedDirectory.TryRemove(root!, _name, out reason);
    }
}
