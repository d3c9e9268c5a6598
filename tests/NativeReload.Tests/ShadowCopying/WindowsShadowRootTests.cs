using System.Text.RegularExpressions;
using NativeReload.ShadowCopying;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.ShadowCopying;

/// <summary>
/// The Windows implementation (path-based, reparse points never entered) run on whatever system runs the tests: it
/// uses only <c>System.IO</c>, and a symbolic link is a reparse point to .NET on every system, so its decisions
/// (what is ours, what is in use, what is removed, where it stops) are checked here on every run, not only under Wine.
/// </summary>
/// <remarks>
/// What only Windows can show (a DLL still mapped, read-only attributes that block deletion, junctions) is checked
/// under Wine by <c>tools/check-windows.sh</c>. On Linux a test creating symbolic links runs as any user.
/// </remarks>
[TestFixture]
[NonParallelizable]
#pragma warning disable CA1416 // Windows-only by design in the product; its System.IO logic runs on every system here.
public sealed partial class WindowsShadowRootTests
{
    private const int AbandonedRemovedEvent = 23;
    private const int AbandonedNotRemovedEvent = 24;
    private const int SkippedEvent = 25;

    private string _root = null!;
    private string _elsewhere = null!;
    private RecordingLogger _log = null!;

    [SetUp]
    public void SetUp()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("symbolic links need privileges on Windows; these run on the other systems and under Wine's check");
        }

        _root = Directory.CreateTempSubdirectory("nr-windows-root-").FullName;
        _elsewhere = Directory.CreateTempSubdirectory("nr-windows-elsewhere-").FullName;
        File.WriteAllText(Path.Combine(_elsewhere, "precious.txt"), "keep me");
        _log = new RecordingLogger();
    }

    [TearDown]
    public void TearDown()
    {
        foreach (string directory in new[] { _root, _elsewhere })
        {
            if (directory is not null && Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    [Test]
    public void Create_MakesALockedDirectoryNamedLikeOurs_ThatASweepLeaves_AndDisposeRemoves()
    {
        string path;
        using (var shadows = ShadowCopyDirectory.CreateOn(new WindowsShadowRoot(), _root, _log))
        {
            path = shadows.Path;
            Assert.That(Path.GetFileName(path), Does.Match($"^nativereload-{Environment.ProcessId}-[0-9a-f]{{16}}$"), "no mkdtemp suffix on Windows");
            Assert.That(Path.GetDirectoryName(path), Is.EqualTo(_root));
            Assert.That(File.Exists(Path.Combine(path, ".owner")), Is.True);
            shadows.WriteCopy("greeter.dll", 1, [1, 2, 3]);

            Assert.That(new WindowsShadowRoot().RemoveAbandoned(_root, _log), Is.Zero, "its lock is held: in use");
            Assert.That(Directory.Exists(path), Is.True);
            Assert.That(_log.Ids(), Does.Not.Contain(SkippedEvent).And.Not.Contain(AbandonedNotRemovedEvent), "in use is not worth a line");
        }

        Assert.That(Directory.Exists(path), Is.False, "Dispose removes the directory and its copy");
    }

    [Test]
    public void Sweep_RemovesAnAbandonedDirectory_WithItsFilesAndSubdirectories_ButNeverWhatALinkInsidePointsTo()
    {
        string abandoned = PlantAbandoned();
        File.WriteAllText(Path.Combine(abandoned, "greeter.g1.0123456789abcdef.dll"), "copy");
        string readOnly = Path.Combine(abandoned, "read-only.dll");
        File.WriteAllText(readOnly, "copy");
        File.SetAttributes(readOnly, FileAttributes.ReadOnly);
        string nested = Directory.CreateDirectory(Path.Combine(abandoned, "a", "b", "c")).FullName;
        File.WriteAllText(Path.Combine(nested, "deep.txt"), "x");
        Directory.CreateSymbolicLink(Path.Combine(abandoned, "link-to-a-directory"), _elsewhere);
        Directory.CreateSymbolicLink(Path.Combine(nested, "nested-link-to-a-directory"), _elsewhere);
        File.CreateSymbolicLink(Path.Combine(abandoned, "link-to-a-file"), Path.Combine(_elsewhere, "precious.txt"));

        Assert.That(new WindowsShadowRoot().RemoveAbandoned(_root, _log), Is.EqualTo(1));

        Assert.That(Directory.Exists(abandoned), Is.False);
        Assert.That(_log.Lines(AbandonedRemovedEvent), Is.EqualTo(new[] { $"Removed shadow copies left by a process that exited: {abandoned}" }));
        Assert.That(Directory.GetFileSystemEntries(_elsewhere), Is.EqualTo(new[] { Path.Combine(_elsewhere, "precious.txt") }));
        Assert.That(File.ReadAllText(Path.Combine(_elsewhere, "precious.txt")), Is.EqualTo("keep me"));
    }

    [Test]
    public void Sweep_LeavesALinkNamedLikeOurs_AndTheDirectoryItPointsTo()
    {
        File.WriteAllText(Path.Combine(_elsewhere, ".owner"), string.Empty);
        string link = Path.Combine(_root, WindowsName());
        Directory.CreateSymbolicLink(link, _elsewhere);

        Assert.That(new WindowsShadowRoot().RemoveAbandoned(_root, _log), Is.Zero);

        Assert.That(Directory.Exists(link), Is.True);
        Assert.That(File.Exists(Path.Combine(_elsewhere, "precious.txt")), Is.True);
        Assert.That(_log.Lines(SkippedEvent), Is.EqualTo(new[]
        {
            $"Left {link} alone (not an abandoned shadow directory of ours): a reparse point (link or junction), not a directory of ours",
        }));
    }

    [TestCase(false, TestName = "Sweep_LeavesADirectoryWithoutALockFile")]
    [TestCase(true, TestName = "Sweep_LeavesADirectoryWhoseLockFileIsALink")]
    public void Sweep_LeavesADirectoryWithoutARealLockFile(bool lockFileIsALink)
    {
        string directory = PlantAbandoned(ownerFile: false);
        File.WriteAllText(Path.Combine(directory, "copy.dll"), "copy");
        if (lockFileIsALink)
        {
            File.CreateSymbolicLink(Path.Combine(directory, ".owner"), Path.Combine(_elsewhere, "precious.txt"));
        }

        Assert.That(new WindowsShadowRoot().RemoveAbandoned(_root, _log), Is.Zero);

        Assert.That(File.Exists(Path.Combine(directory, "copy.dll")), Is.True);
        Assert.That(_log.Lines(SkippedEvent), Is.EqualTo(new[]
        {
            $"Left {directory} alone (not an abandoned shadow directory of ours): no lock file; it cannot be proven abandoned",
        }));
    }

    [Test]
    public void Sweep_LeavesADirectoryWhoseLockIsHeld_WithoutALogLine()
    {
        string directory = PlantAbandoned();
        using var held = new FileStream(Path.Combine(directory, ".owner"), FileMode.Open, FileAccess.ReadWrite, FileShare.None);

        Assert.That(WindowsAbandonedDirectory.TryRemove(new DirectoryInfo(directory), out string reason), Is.EqualTo(SweepVerdict.InUse));
        Assert.That(reason, Is.Not.Empty, "the sharing violation, for a debugger");
        Assert.That(new WindowsShadowRoot().RemoveAbandoned(_root, _log), Is.Zero);

        Assert.That(Directory.Exists(directory), Is.True);
        Assert.That(_log.Entries, Is.Empty);
    }

    [Test]
    public void Sweep_EntersSevenLevelsOfSubdirectories_ButNotEight_AndThenKeepsTheLockFile()
    {
        string sevenDeep = PlantAbandoned();
        Directory.CreateDirectory(Path.Combine([sevenDeep, .. Enumerable.Repeat("d", 7)]));
        string eightDeep = PlantAbandoned();
        string deepest = Directory.CreateDirectory(Path.Combine([eightDeep, .. Enumerable.Repeat("d", 8)])).FullName;

        Assert.That(new WindowsShadowRoot().RemoveAbandoned(_root, _log), Is.EqualTo(1));

        Assert.That(Directory.Exists(sevenDeep), Is.False);
        Assert.That(Directory.Exists(deepest), Is.True, "the eighth level is never entered");
        Assert.That(File.Exists(Path.Combine(eightDeep, ".owner")), Is.True, "what is left can still be proven abandoned next time");
        string[] failures = _log.Lines(AbandonedNotRemovedEvent);
        Assert.That(failures, Has.Length.EqualTo(1));
        Assert.That(failures[0], Does.StartWith($"Could not remove abandoned shadow directory {eightDeep}: "));
    }

    [Test]
    public void Sweep_OnlyConsidersDirectoriesNamedExactlyLikeOurs()
    {
        string[] notOurs =
        [
            Path.Combine(_root, "nativereload-123-notahexname00000"),
            Path.Combine(_root, "nativereload-123-0123456789abcdef-extra"),
            Path.Combine(_root, "other-123-0123456789abcdef"),
        ];
        foreach (string directory in notOurs)
        {
            Directory.CreateDirectory(directory);
            File.WriteAllText(Path.Combine(directory, ".owner"), string.Empty);
        }

        string ours = PlantAbandoned();

        Assert.That(new WindowsShadowRoot().RemoveAbandoned(_root, _log), Is.EqualTo(1));

        Assert.That(Directory.Exists(ours), Is.False);
        Assert.That(notOurs.Where(Directory.Exists), Is.EqualTo(notOurs));
    }

    [Test]
    public void Sweep_OfARootThatCannotBeListed_RemovesNothing_AndDoesNotThrow()
    {
        Assert.That(new WindowsShadowRoot().RemoveAbandoned(Path.Combine(_root, "missing"), _log), Is.Zero);
        Assert.That(_log.Entries, Is.Empty);
    }

    private string PlantAbandoned(bool ownerFile = true)
    {
        string directory = Directory.CreateDirectory(Path.Combine(_root, WindowsName())).FullName;
        if (ownerFile)
        {
            File.WriteAllText(Path.Combine(directory, ".owner"), string.Empty);
        }

        return directory;
    }

    // A Windows-shaped name (no mkdtemp suffix) with a pid no process has.
    private static string WindowsName() =>
        $"nativereload-{StaleShadowDirectory.DeadPid}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8))}";
}
#pragma warning restore CA1416
