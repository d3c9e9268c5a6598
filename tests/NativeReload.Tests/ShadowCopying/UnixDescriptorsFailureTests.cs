using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using NativeReload.ShadowCopying;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.ShadowCopying;

/// <summary>
/// <see cref="UnixDescriptors"/> when the libc call under it fails (injected with <see cref="FaultyUnixCalls"/>): the
/// errno is read only on failure, each failure names its call, and nothing it opened is left open.
/// </summary>
[TestFixture]
[NonParallelizable]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class UnixDescriptorsFailureTests() : TemporaryRootFixture("nr-descriptor-failure-", OperatingSystem.IsLinux() ? null : "statx layout and /proc/self/fd")
{
    private const int EIO = 5;
    private const int ENOMEM = 12;
    private const int EACCES = 13;
    private const int EMFILE = 24;
    private const uint STATX_UID = 0x8;

    private FaultyUnixCalls _calls = null!;

    [SetUp]
    public void SetUp()
    {
        File.WriteAllText(Path.Combine(Root, "file"), "x");
        Directory.CreateDirectory(Path.Combine(Root, "dir"));
        _calls = FaultyUnixCalls.Install();
    }

    [TearDown]
    public void TearDown()
    {
        _calls?.Dispose();
    }

    [Test]
    public void ReadNames_WhenDupFails_ThrowsNamingDupAndTheError()
    {
        using SafeFileHandle root = OpenRoot();
        _calls.Fail(UnixCall.Dup, EMFILE);

        var error = Assert.Throws<IOException>(() => UnixDescriptors.ReadNames(root));

        Assert.That(error!.Message, Is.EqualTo($"dup: {Marshal.GetPInvokeErrorMessage(EMFILE)}"));
    }

    [Test]
    public void ReadNames_WhenFdopendirFails_ThrowsNamingIt_AndClosesTheDuplicate()
    {
        using SafeFileHandle root = OpenRoot();
        _calls.Fail(UnixCall.FdOpenDir, ENOMEM);

        int leaked = Leaked(() =>
        {
            var error = Assert.Throws<IOException>(() => UnixDescriptors.ReadNames(root));
            Assert.That(error!.Message, Is.EqualTo($"fdopendir: {Marshal.GetPInvokeErrorMessage(ENOMEM)}"));
        });

        Assert.That(leaked, Is.LessThan(5), "the duplicate is closed when no stream took it over");
        Assert.That(_calls.Count(UnixCall.Close), Is.EqualTo(_calls.Count(UnixCall.Dup)));
    }

    [Test]
    public void ReadNames_WhenReaddirFails_ThrowsNamingIt_AndClosesTheStream()
    {
        using SafeFileHandle root = OpenRoot();
        _calls.Fail(UnixCall.ReadDir, EIO);

        int leaked = Leaked(() =>
        {
            var error = Assert.Throws<IOException>(() => UnixDescriptors.ReadNames(root));
            Assert.That(error!.Message, Is.EqualTo($"readdir: {Marshal.GetPInvokeErrorMessage(EIO)}"), "not a short listing passed off as complete");
        });

        Assert.That(leaked, Is.LessThan(5), "closedir on the way out");
    }

    [Test]
    public void TryGetOwnerAndMode_WhenStatFails_IsFalse()
    {
        // Mode 0000: the zeroes a failed statx leaves would even agree with .NET's view of the mode.
        File.SetUnixFileMode(Path.Combine(Root, "file"), UnixFileMode.None);
        using SafeFileHandle root = OpenRoot();
        using SafeFileHandle? file = UnixDescriptors.OpenFile(root, "file", out _);
        _calls.Fail(UnixCall.Stat, EIO);

        Assert.That(UnixDescriptors.TryGetOwnerAndMode(file!, out _, out _), Is.False);
    }

    [Test]
    public void TryGetOwnerAndMode_WhenStatxDoesNotReturnTheOwner_IsFalse()
    {
        // statx may fill fewer fields than asked (stx_mask says which); an owner it did not fill must not be read as root.
        using SafeFileHandle root = OpenRoot();
        using SafeFileHandle? file = UnixDescriptors.OpenFile(root, "file", out _);
        Assert.That(UnixDescriptors.TryGetOwnerAndMode(file!, out _, out _), Is.True, "with every field filled");
        _calls.EditStat(ClearMask(STATX_UID));

        Assert.That(UnixDescriptors.TryGetOwnerAndMode(file!, out _, out _), Is.False);
    }

    [Test]
    public void EveryOpenThatSucceeds_ReportsErrnoZero_WhateverErrnoLibcLeftBehind()
    {
        // POSIX leaves errno unspecified after a successful call: it must be read only on failure.
        _calls.After(UnixCall.Open, () => Marshal.SetLastPInvokeError(EACCES));
        _calls.After(UnixCall.OpenAt, () => Marshal.SetLastPInvokeError(EACCES));

        using SafeFileHandle? root = UnixDescriptors.OpenDirectory(Root, out int rootErrno);
        using SafeFileHandle? dir = UnixDescriptors.OpenSubdirectory(root!, "dir", out int dirErrno);
        using SafeFileHandle? file = UnixDescriptors.OpenFile(root!, "file", out int fileErrno);

        Assert.That((root is null, dir is null, file is null), Is.EqualTo((false, false, false)));
        Assert.That((rootErrno, dirErrno, fileErrno), Is.EqualTo((0, 0, 0)));
    }

    [Test]
    public void AFailedOpen_ReportsTheErrnoOfTheCall()
    {
        _calls.Fail(UnixCall.OpenAt, EACCES, name: "dir");
        using SafeFileHandle root = OpenRoot();

        using SafeFileHandle? dir = UnixDescriptors.OpenSubdirectory(root, "dir", out int errno);

        Assert.That((dir, errno), Is.EqualTo(((SafeFileHandle?)null, EACCES)));
    }

    [Test]
    public void Substitute_IsOneAtATime_AndDisposingItRestoresTheRealCalls()
    {
        using SafeFileHandle root = OpenRoot();
        _calls.Fail(UnixCall.Dup, EMFILE);

        Assert.Throws<InvalidOperationException>(() => FaultyUnixCalls.Install());
        Assert.Throws<IOException>(() => UnixDescriptors.ReadNames(root), "the first substitute is still the one in use");

        _calls.Dispose();

        Assert.That(UnixDescriptors.ReadNames(root), Is.EquivalentTo(new[] { "file", "dir" }));
    }

    private SafeFileHandle OpenRoot()
    {
        SafeFileHandle? root = UnixDescriptors.OpenDirectory(Root, out int errno);
        Assert.That(root, Is.Not.Null, $"open {Root}: errno {errno}");
        return root!;
    }

    /// <summary>How many more descriptors are open after 20 runs of <paramref name="action"/> than before.</summary>
    private static int Leaked(Action action)
    {
        int before = Directory.GetFileSystemEntries("/proc/self/fd").Length;
        for (int i = 0; i < 20; i++)
        {
            action();
        }

        return Directory.GetFileSystemEntries("/proc/self/fd").Length - before;
    }

    /// <summary>Clears bits of <c>stx_mask</c> (offset 0), as a statx that could not fill those fields would.</summary>
    private static unsafe Action<nint> ClearMask(uint bits) => buffer => *(uint*)buffer &= ~bits;
}
