using NativeReload.Watching;

namespace NativeReload.Tests.Watching;

/// <summary>
/// What <see cref="FileStamp.Capture"/> says about a library path: a symbolic link is followed to its final target (and
/// remembers its own target, so a retargeted link is a change), a directory is not a file, and a missing path or a
/// link loop is "missing", never an exception.
/// </summary>
[TestFixture]
public sealed class FileStampTests
{
    private string _directory = null!;

    [SetUp]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("nativereload-stamp-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    [Test]
    public void RegularFile_ExistsWithItsLength()
    {
        string file = Write("libx.so", 3);

        FileStamp stamp = FileStamp.Capture(file);

        Assert.That(stamp, Is.EqualTo(new FileStamp(true, true, file, 3, File.GetLastWriteTimeUtc(file), null)));
    }

    [Test]
    public void SymbolicLinkChain_IsFollowedToTheFinalTarget_AndKeepsItsOwnTarget()
    {
        string target = Write("libx.so.1.2", 5);
        string middle = Path.Combine(_directory, "libx.so.1");
        string link = Path.Combine(_directory, "libx.so");
        File.CreateSymbolicLink(middle, "libx.so.1.2");
        File.CreateSymbolicLink(link, "libx.so.1");

        FileStamp stamp = FileStamp.Capture(link);

        Assert.That(stamp, Is.EqualTo(new FileStamp(true, true, target, 5, File.GetLastWriteTimeUtc(target), "libx.so.1")));
    }

    [Test]
    public void DanglingSymbolicLink_IsMissing_AtItsTarget()
    {
        string link = Path.Combine(_directory, "libx.so");
        File.CreateSymbolicLink(link, "gone.so");

        FileStamp stamp = FileStamp.Capture(link);

        Assert.That(stamp, Is.EqualTo(new FileStamp(false, false, Path.Combine(_directory, "gone.so"), 0, default, "gone.so")));
    }

    [Test]
    public void SymbolicLinkLoop_IsMissing_NotAnException()
    {
        string link = Path.Combine(_directory, "libx.so");
        string other = Path.Combine(_directory, "liby.so");
        File.CreateSymbolicLink(link, "liby.so");
        File.CreateSymbolicLink(other, "libx.so");

        FileStamp stamp = FileStamp.Capture(link);

        Assert.Multiple(() =>
        {
            Assert.That(stamp.Exists, Is.False);
            Assert.That(stamp.IsRegularFile, Is.False);
            Assert.That(stamp.Length, Is.Zero);
            Assert.That(stamp.LinkTarget, Is.EqualTo("liby.so"));
        });
    }

    [Test]
    public void Directory_ExistsButIsNotAFile()
    {
        string directory = Path.Combine(_directory, "libx.so");
        Directory.CreateDirectory(directory);

        FileStamp stamp = FileStamp.Capture(directory);

        Assert.That(stamp, Is.EqualTo(new FileStamp(true, false, directory, 0, Directory.GetLastWriteTimeUtc(directory), null)));
    }

    [Test]
    public void MissingPath_IsMissing()
    {
        string missing = Path.Combine(_directory, "libx.so");

        FileStamp stamp = FileStamp.Capture(missing);

        Assert.That(stamp, Is.EqualTo(new FileStamp(false, false, missing, 0, default, null)));
    }

    private string Write(string name, int length)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, new byte[length]);
        return path;
    }
}
