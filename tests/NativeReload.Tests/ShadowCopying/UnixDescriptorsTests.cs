using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using NativeReload.ShadowCopying;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.ShadowCopying;

/// <summary>
/// The descriptor calls the sweep relies on: what each open refuses and the errno it reports, descriptors that a
/// child process (an <c>--isolate</c> worker) never inherits and a FIFO never blocks, listing, owner and mode, the lock.
/// </summary>
[TestFixture]
[NonParallelizable]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class UnixDescriptorsTests() : TemporaryRootFixture("nr-unix-descriptors-", OperatingSystem.IsWindows() ? "Unix descriptors" : null)
{
    private const int OCloexec = 0x80000; // 02000000 on every Linux architecture
    private const int ONonBlock = 0x800;  // 04000 on every Linux architecture

    [Test]
    public void OpenDirectory_OfAMissingPath_IsNull_WithENOENT()
    {
        using SafeFileHandle? handle = UnixDescriptors.OpenDirectory(Path.Combine(Root, "missing"), out int errno);

        Assert.That(handle, Is.Null);
        Assert.That(errno, Is.EqualTo(UnixDescriptors.ENOENT));
    }

    [Test]
    public void OpenDirectory_OfAFile_IsNull_WithENOTDIR()
    {
        string file = Path.Combine(Root, "file");
        File.WriteAllText(file, "x");

        using SafeFileHandle? handle = UnixDescriptors.OpenDirectory(file, out int errno);

        Assert.That(handle, Is.Null);
        Assert.That(errno, Is.EqualTo(UnixDescriptors.ENOTDIR));
    }

    [Test]
    public void OpenSubdirectory_RefusesAFile_AndALinkToADirectory()
    {
        File.WriteAllText(Path.Combine(Root, "file"), "x");
        Directory.CreateDirectory(Path.Combine(Root, "dir"));
        File.CreateSymbolicLink(Path.Combine(Root, "link"), Path.Combine(Root, "dir"));
        using SafeFileHandle root = OpenRoot();

        using SafeFileHandle? file = UnixDescriptors.OpenSubdirectory(root, "file", out int fileErrno);
        using SafeFileHandle? link = UnixDescriptors.OpenSubdirectory(root, "link", out int linkErrno);
        using SafeFileHandle? dir = UnixDescriptors.OpenSubdirectory(root, "dir", out int dirErrno);

        Assert.That((file, fileErrno), Is.EqualTo(((SafeFileHandle?)null, UnixDescriptors.ENOTDIR)));
        Assert.That(link, Is.Null, "a link is never followed");
        Assert.That(linkErrno, Is.AnyOf(UnixDescriptors.ENOTDIR, UnixDescriptors.ELOOP), "Linux says ENOTDIR for O_DIRECTORY|O_NOFOLLOW on a link");
        Assert.That(dir, Is.Not.Null);
        Assert.That(dirErrno, Is.Zero);
    }

    [Test]
    public void OpenFile_RefusesALink_WithELOOP()
    {
        File.WriteAllText(Path.Combine(Root, "file"), "x");
        File.CreateSymbolicLink(Path.Combine(Root, "link"), Path.Combine(Root, "file"));
        using SafeFileHandle root = OpenRoot();

        using SafeFileHandle? link = UnixDescriptors.OpenFile(root, "link", out int errno);
        using SafeFileHandle? file = UnixDescriptors.OpenFile(root, "file", out int fileErrno);

        Assert.That(link, Is.Null);
        Assert.That(errno, Is.EqualTo(UnixDescriptors.ELOOP));
        Assert.That(file, Is.Not.Null);
        Assert.That(fileErrno, Is.Zero);
    }

    [Test]
    public void EveryOpenedDescriptor_IsCloseOnExec_AndNonBlocking()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("/proc/self/fdinfo");
        }

        File.WriteAllText(Path.Combine(Root, "file"), "x");
        Directory.CreateDirectory(Path.Combine(Root, "dir"));
        using SafeFileHandle root = OpenRoot();
        using SafeFileHandle? dir = UnixDescriptors.OpenSubdirectory(root, "dir", out _);
        using SafeFileHandle? file = UnixDescriptors.OpenFile(root, "file", out _);

        foreach ((string what, SafeFileHandle? handle) in new[] { ("OpenDirectory", root), ("OpenSubdirectory", dir), ("OpenFile", file) })
        {
            Assert.That(handle, Is.Not.Null, what);
            int flags = Flags(handle!);
            Assert.That(flags & OCloexec, Is.EqualTo(OCloexec), $"{what}: O_CLOEXEC (a child process never inherits it), flags 0{Convert.ToString(flags, 8)}");
            Assert.That(flags & ONonBlock, Is.EqualTo(ONonBlock), $"{what}: O_NONBLOCK, flags 0{Convert.ToString(flags, 8)}");
        }
    }

    [Test]
    public void ReadNames_ListsEveryEntryOfALargeDirectory_ButNotDotAndDotDot_AndClosesWhatItOpens()
    {
        var expected = new List<string>();
        for (int i = 0; i < 300; i++)
        {
            string name = $"entry-{i:D3}";
            File.WriteAllBytes(Path.Combine(Root, name), []);
            expected.Add(name);
        }

        Directory.CreateDirectory(Path.Combine(Root, "sub"));
        expected.Add("sub");
        using SafeFileHandle root = OpenRoot();

        Assert.That(UnixDescriptors.ReadNames(root), Is.EquivalentTo(expected));
        if (OperatingSystem.IsLinux())
        {
            int before = Directory.GetFileSystemEntries("/proc/self/fd").Length;
            for (int i = 0; i < 20; i++)
            {
                UnixDescriptors.ReadNames(root);
            }

            Assert.That(Directory.GetFileSystemEntries("/proc/self/fd").Length - before, Is.LessThan(5), "no descriptor left open per listing");
        }
    }

    [Test]
    public void TryGetOwnerAndMode_ReadsTheOwnerTypeAndPermissions()
    {
        string file = Path.Combine(Root, "file");
        File.WriteAllText(file, "x");
        File.SetUnixFileMode(file, (UnixFileMode)0b110_100_000); // 0640
        Assert.That(StaleShadowDirectory.LChown(file, 65534, 65534), Is.Zero);
        Directory.CreateDirectory(Path.Combine(Root, "dir"));
        File.SetUnixFileMode(Path.Combine(Root, "dir"), (UnixFileMode)0b111_000_000);
        using SafeFileHandle root = OpenRoot();
        using SafeFileHandle? fileHandle = UnixDescriptors.OpenFile(root, "file", out _);
        using SafeFileHandle? dirHandle = UnixDescriptors.OpenSubdirectory(root, "dir", out _);

        Assert.That(UnixDescriptors.TryGetOwnerAndMode(fileHandle!, out uint fileUid, out int fileMode), Is.True);
        Assert.That(UnixDescriptors.TryGetOwnerAndMode(dirHandle!, out uint dirUid, out int dirMode), Is.True);

        Assert.That((fileUid, fileMode & 0xFFF), Is.EqualTo((65534u, 0x1A0)));
        Assert.That((UnixDescriptors.IsRegularFile(fileMode), UnixDescriptors.IsDirectory(fileMode)), Is.EqualTo((true, false)));
        Assert.That((dirUid, dirMode & 0xFFF), Is.EqualTo((UnixDescriptors.EffectiveUserId(), 0x1C0)));
        Assert.That((UnixDescriptors.IsRegularFile(dirMode), UnixDescriptors.IsDirectory(dirMode)), Is.EqualTo((false, true)));
    }

    [Test]
    public void TryLockExclusive_WhileAnotherDescriptorHoldsTheLock_IsEWOULDBLOCK_AndSucceedsOnceReleased()
    {
        string file = Path.Combine(Root, ".owner");
        File.WriteAllText(file, string.Empty);
        using SafeFileHandle root = OpenRoot();
        using SafeFileHandle? handle = UnixDescriptors.OpenFile(root, ".owner", out _);

        using (new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) // flock(LOCK_EX)
        {
            Assert.That(UnixDescriptors.TryLockExclusive(handle!), Is.EqualTo(UnixDescriptors.EWOULDBLOCK));
        }

        Assert.That(UnixDescriptors.TryLockExclusive(handle!), Is.Zero);
    }

    [Test]
    public void Unlink_RemovesALinkNotItsTarget_RefusesADirectoryAsAFile_AndRemovesAnEmptyDirectory()
    {
        string target = Path.Combine(Root, "target");
        File.WriteAllText(target, "keep me");
        File.CreateSymbolicLink(Path.Combine(Root, "link"), target);
        Directory.CreateDirectory(Path.Combine(Root, "dir"));
        using SafeFileHandle root = OpenRoot();

        Assert.That(UnixDescriptors.Unlink(root, "link", removeDirectory: false), Is.Zero);
        Assert.That(File.Exists(target), Is.True);
        Assert.That(UnixDescriptors.Unlink(root, "dir", removeDirectory: false), Is.EqualTo(UnixDescriptors.EISDIR));
        Assert.That(UnixDescriptors.Unlink(root, "dir", removeDirectory: true), Is.Zero);
        Assert.That(UnixDescriptors.Unlink(root, "dir", removeDirectory: true), Is.EqualTo(UnixDescriptors.ENOENT));
        Assert.That(Directory.GetFileSystemEntries(Root), Is.EqualTo(new[] { target }));
    }

    [Test]
    public void MakeTemporaryDirectory_UnderAMissingFolder_ThrowsNamingTheTemplateAndTheReason()
    {
        string template = Path.Combine(Root, "missing", "nativereload-1-");

        var error = Assert.Throws<IOException>(() => UnixDirectories.MakeTemporaryDirectory(template));

        Assert.That(error!.Message, Is.EqualTo($"{template}XXXXXX: cannot create the shadow directory: {Marshal.GetPInvokeErrorMessage(UnixDescriptors.ENOENT)}"));
    }

    [Test]
    public void NamesOutsideAscii_AreOpenedAndUnlinked_AsUtf8()
    {
        const string Dir = "répertoire-😀";
        const string File_ = "bibliothèque-ü.so";
        Directory.CreateDirectory(Path.Combine(Root, Dir));
        File.WriteAllText(Path.Combine(Root, File_), "x");
        using SafeFileHandle root = OpenRoot();

        using (SafeFileHandle? dir = UnixDescriptors.OpenSubdirectory(root, Dir, out int dirErrno))
        using (SafeFileHandle? file = UnixDescriptors.OpenFile(root, File_, out int fileErrno))
        {
            Assert.That((dir is null, dirErrno, file is null, fileErrno), Is.EqualTo((false, 0, false, 0)));
        }

        Assert.That(UnixDescriptors.ReadNames(root), Is.EquivalentTo(new[] { Dir, File_ }));
        Assert.That(UnixDescriptors.Unlink(root, File_, removeDirectory: false), Is.Zero);
        Assert.That(UnixDescriptors.Unlink(root, Dir, removeDirectory: true), Is.Zero);
        Assert.That(Directory.GetFileSystemEntries(Root), Is.Empty);
    }

    [Test]
    public void UnsupportedReason_NamesTheRuntimeAndTheProcessBitness()
    {
        Assert.That(
            UnixDescriptors.UnsupportedReason,
            Is.EqualTo($"descriptor-relative deletion is not implemented for {RuntimeInformation.RuntimeIdentifier} ({IntPtr.Size * 8}-bit)"));
        Assert.That(UnixDescriptors.UnsupportedReason, Does.EndWith(Environment.Is64BitProcess ? "(64-bit)" : "(32-bit)"));
    }

    private SafeFileHandle OpenRoot()
    {
        SafeFileHandle? root = UnixDescriptors.OpenDirectory(Root, out int errno);
        Assert.That(root, Is.Not.Null, $"open {Root}: errno {errno}");
        return root!;
    }

    /// <summary>The descriptor's open flags as the kernel shows them (octal in /proc/self/fdinfo).</summary>
    private static int Flags(SafeFileHandle handle)
    {
        string fd = handle.DangerousGetHandle().ToString(CultureInfo.InvariantCulture);
        string line = File.ReadLines($"/proc/self/fdinfo/{fd}").First(l => l.StartsWith("flags:", StringComparison.Ordinal));
        return Convert.ToInt32(line["flags:".Length..].Trim(), 8);
    }
}
