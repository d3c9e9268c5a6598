using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using NativeReload.Loading;
using NativeReload.Reloading;
using NativeReload.ShadowCopying;
using NativeReload.Tests.Reliability;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.ShadowCopying;

/// <summary>The private directory of loaded copies: owner-only, unguessable, exclusive, cleaned up, exact bytes.</summary>
[TestFixture]
[NonParallelizable]
public sealed partial class ShadowCopyDirectoryTests
{
    private string _root = null!;

    [SetUp]
    public void SetUp() => _root = Directory.CreateTempSubdirectory("nr-shadow-test-").FullName;

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [TestCase(false, TestName = "Create_MakesAnOwnerOnlyDirectory_UnderAGivenRoot")]
    [TestCase(true, TestName = "Create_MakesAnOwnerOnlyDirectory_UnderTheTemporaryDirectory")]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Create_MakesAnOwnerOnlyDirectory(bool systemTemp)
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("Unix file modes");
        }

        using var shadows = systemTemp ? ShadowCopyDirectory.Create() : ShadowCopyDirectory.Create(_root);
        Assert.That(File.GetUnixFileMode(shadows.Path), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
        string copy = shadows.WriteCopy("libgreeter.so", 1, [1, 2, 3]);
        Assert.That(File.GetUnixFileMode(copy) & (UnixFileMode)0b000_111_111, Is.EqualTo(UnixFileMode.None), "copies are owner-only too");
    }

    [Test]
    public void Names_AreUniqueAndUnguessable()
    {
        using var first = ShadowCopyDirectory.Create(_root);
        using var second = ShadowCopyDirectory.Create(_root);
        Assert.That(first.Path, Is.Not.EqualTo(second.Path));
        foreach (string path in new[] { first.Path, second.Path })
        {
            // nativereload-<pid>-<16 hex = 64 random bits><mkdtemp's own 6 characters>
            Match name = DirectoryName().Match(Path.GetFileName(path));
            Assert.That(name.Success, Is.True, path);
            Assert.That(name.Groups[1].Value, Is.EqualTo(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        string a = first.WriteCopy("libgreeter.so", 7, [1]);
        string b = first.WriteCopy("libgreeter.so", 7, [1]);
        Assert.That(a, Is.Not.EqualTo(b), "the same generation twice still gets two names");
        Assert.That(Path.GetFileName(a), Does.Match(@"^libgreeter\.g7\.[0-9a-f]{16}\.so$"), "stem, generation, 64 random bits, extension");
    }

    [Test]
    public void Create_IsExclusive_AndNeverAdoptsOrFollowsAnEntryThatAlreadyExists()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("symbolic links need privileges on Windows");
        }

        // Entries an attacker could plant under the root with our prefix: a directory and a symlink to elsewhere.
        string elsewhere = Directory.CreateTempSubdirectory("nr-elsewhere-").FullName;
        try
        {
            string planted = Path.Combine(_root, $"{ShadowCopyDirectory.DirectoryPrefix}{Environment.ProcessId}-planted00");
            Directory.CreateDirectory(planted);
            File.CreateSymbolicLink(Path.Combine(_root, $"{ShadowCopyDirectory.DirectoryPrefix}{Environment.ProcessId}-link0000"), elsewhere);

            for (int i = 0; i < 20; i++)
            {
                using var shadows = ShadowCopyDirectory.Create(_root);
                Assert.That(Path.GetFileName(shadows.Path), Does.Not.Contain("planted").And.Not.Contain("link"));
                Assert.That(new DirectoryInfo(shadows.Path).LinkTarget, Is.Null, "a real directory, not a link");
                Assert.That(Directory.GetFiles(shadows.Path).Select(Path.GetFileName), Is.EqualTo(new[] { ".owner" }), "freshly created: only our lock file");
                shadows.WriteCopy("libx.so", 1, [1]);
            }

            Assert.That(Directory.GetFileSystemEntries(elsewhere), Is.Empty, "nothing was ever written through the planted link");
            Assert.That(Directory.Exists(planted), Is.True, "a live-looking directory that is not ours is left alone");
        }
        finally
        {
            Directory.Delete(elsewhere, recursive: true);
        }
    }

    [Test]
    public void Dispose_RemovesEveryCopy_CurrentAndPending()
    {
        string libraryDir = Directory.CreateTempSubdirectory("nr-lib-").FullName;
        string path = Path.Combine(libraryDir, LibraryNaming.FileName("target"));
        File.Copy(TestPaths.Fixture("greeter_v1"), path);
        var library = new ReloadableLibrary<GreeterExports>(path, GreeterExports.Bind, new ReloadableLibraryOptions { ShadowRoot = _root, WatchForChanges = false, ApplyMode = ApplyMode.AtSafePoint });
        File.Copy(TestPaths.Fixture("greeter_v2"), path, overwrite: true);
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(library.HasPendingReload, Is.True);
        string shadow = library.ShadowDirectory;
        Assert.That(ReliabilitySupport.CountCopies(shadow), Is.EqualTo(2), "current and pending");

        library.Dispose();
        Assert.That(Directory.Exists(shadow), Is.False);
        Assert.That(Directory.GetFileSystemEntries(_root), Is.Empty);
        Directory.Delete(libraryDir, recursive: true);
    }

    [Test]
    public void CopiesLeftByAKilledProcess_AreRemovedAtTheNextStart()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("uses SIGKILL");
        }

        string leftBehind = RunHostAndStop(kill: true);
        Assert.That(Directory.Exists(leftBehind), Is.True, "SIGKILL gives no chance to clean up");
        Assert.That(Directory.GetFiles(leftBehind).Length, Is.GreaterThanOrEqualTo(2), "its lock file and its copy");

        // A directory that only looks like ours by prefix, and a live one, are never touched.
        string notOurs = Directory.CreateDirectory(Path.Combine(_root, "nativereload-main")).FullName;
        Directory.SetLastWriteTimeUtc(notOurs, DateTime.UtcNow.AddDays(-1));

        Assert.That(ShadowCopyDirectory.RemoveAbandoned(_root), Is.EqualTo(1));
        Assert.That(Directory.Exists(leftBehind), Is.False);
        Assert.That(Directory.Exists(notOurs), Is.True);

        using var live = ShadowCopyDirectory.Create(_root);
        Assert.That(ShadowCopyDirectory.RemoveAbandoned(_root), Is.Zero);
        Assert.That(Directory.Exists(live.Path), Is.True, "a live process's directory is kept");

        // And the library does it by itself when it starts: the first library a process opens under a root sweeps
        // it (once per root and process; later ones do not pay for it again).
        string freshRoot = Directory.CreateTempSubdirectory("nr-root-").FullName;
        string again = RunHostAndStop(kill: true, freshRoot);
        string libraryDir = Directory.CreateTempSubdirectory("nr-lib-").FullName;
        string path = Path.Combine(libraryDir, LibraryNaming.FileName("target"));
        File.Copy(TestPaths.Fixture("greeter_v1"), path);
        using (new ReloadableLibrary<GreeterExports>(path, GreeterExports.Bind, new ReloadableLibraryOptions { ShadowRoot = freshRoot, WatchForChanges = false }))
        {
            Assert.That(Directory.Exists(again), Is.False, "removed by the first ReloadableLibrary of this process under that root");
        }

        Directory.Delete(libraryDir, recursive: true);
        Directory.Delete(freshRoot, recursive: true);
    }

    [Test]
    public void CtrlC_InTheHost_RemovesItsCopies()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("uses SIGINT");
        }

        string shadow = RunHostAndStop(kill: false);
        Assert.That(Directory.Exists(shadow), Is.False, "the host removed its directory on Ctrl+C");
    }

    [Test]
    public void TheLoadedCopy_HoldsExactlyTheValidatedBytes_EvenIfTheFileIsSwappedRightAfterValidation()
    {
        string libraryDir = Directory.CreateTempSubdirectory("nr-lib-").FullName;
        string path = Path.Combine(libraryDir, LibraryNaming.FileName("target"));
        File.Copy(TestPaths.Fixture("greeter_v1"), path);
        using var shadows = ShadowCopyDirectory.Create(_root);

        CandidateFile candidate = CandidateFile.Read(path);          // validated and hashed: v1
        File.Copy(TestPaths.Fixture("greeter_v2"), path, overwrite: true); // swapped between check and load
        LibraryGeneration<GreeterExports> generation = GenerationLoader.Load(candidate, 1, shadows, GreeterExports.Bind);
        try
        {
            string v1Hash = ReliabilitySupport.Sha256OfFile(TestPaths.Fixture("greeter_v1"));
            Assert.Multiple(() =>
            {
                Assert.That(generation.ContentHash, Is.EqualTo(v1Hash));
                Assert.That(ReliabilitySupport.Sha256OfFile(generation.ShadowPath), Is.EqualTo(generation.ContentHash), "the copy on disk is the validated bytes");
                Assert.That(generation.Exports.GetMessage(), Is.EqualTo("Hello from v1"), "the swapped-in file was never loaded");
            });
        }
        finally
        {
            generation.Free();
            Directory.Delete(libraryDir, recursive: true);
        }
    }

    [Test]
    public void EveryGeneration_ContentHash_IsTheHashOfItsShadowCopy()
    {
        var dir = new LibraryDirectory();
        try
        {
            dir.ReplaceByRename("greeter_v1");
            using var library = new ReloadableLibrary<GreeterExports>(dir.LibraryPath, GreeterExports.Bind, new ReloadableLibraryOptions { ShadowRoot = _root, WatchForChanges = false });
            for (int i = 0; i < 6; i++)
            {
                dir.ReplaceByRename($"greeter_v{i % 3 + 1}");
                library.Reload();
                Assert.That(ReliabilitySupport.Sha256OfFile(library.Current.ShadowPath), Is.EqualTo(library.Current.ContentHash));
                Assert.That(library.Current.ContentHash, Is.EqualTo(ReliabilitySupport.Sha256OfFile(TestPaths.Fixture($"greeter_v{i % 3 + 1}"))));
            }
        }
        finally
        {
            dir.Dispose();
        }
    }

    /// <summary>Runs the published host on a library with its shadow root set to ours; returns its shadow directory after it stopped.</summary>
    private string RunHostAndStop(bool kill, string? root = null)
    {
        root ??= _root;
        if (!File.Exists(TestPaths.Cli))
        {
            Assert.Fail($"the published CLI {TestPaths.Cli} is missing: run ./build.sh build (it publishes it)");
        }

        string libraryDir = Directory.CreateTempSubdirectory("nr-lib-").FullName;
        string path = Path.Combine(libraryDir, LibraryNaming.FileName("target"));
        File.Copy(TestPaths.Fixture("greeter_v1"), path);
        string[] before = Directory.GetDirectories(root);
        var start = new ProcessStartInfo(TestPaths.Cli) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (!kill && SigintIgnoredHere())
        {
            // Ignored signals are inherited: the host would ignore the Ctrl+C too, and rightly (nohup semantics).
            start.FileName = "env";
            start.ArgumentList.Add("--default-signal=INT");
            start.ArgumentList.Add(TestPaths.Cli);
        }

        foreach (string argument in new[] { "run", path, "--every", "100ms" })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["NATIVERELOAD_SHADOW_ROOT"] = root;
        try
        {
            using var host = new CliHost(start);
            host.WaitForOutput(o => o.StartsWith("message: Hello from v1", StringComparison.Ordinal), "the host's first message");
            string shadow = Directory.GetDirectories(root).Except(before).Single();
            if (kill)
            {
                host.Process.Kill(); // SIGKILL on Unix
            }
            else
            {
                Assert.That(SendSignal(host.Process.Id, Sigint), Is.Zero, "kill(SIGINT)");
            }

            Assert.That(host.Process.WaitForExit(10_000), Is.True, "the host stopped");
            return shadow;
        }
        finally
        {
            Directory.Delete(libraryDir, recursive: true);
        }
    }

    private const int Sigint = 2;

    /// <summary>
    /// True when this process ignores SIGINT, as everything started in the background by a non-interactive shell does
    /// (<c>cmd &amp;</c> in a script, <c>nohup</c>, a CI step that backgrounds the tests). Read from /proc (Linux only;
    /// elsewhere false, and the test runs as it is).
    /// </summary>
    private static bool SigintIgnoredHere()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        string mask = File.ReadLines("/proc/self/status").First(line => line.StartsWith("SigIgn:", StringComparison.Ordinal))["SigIgn:".Length..].Trim();
        ulong bit = 1UL << (Sigint - 1); // bit n-1 stands for signal n
        return (ulong.Parse(mask, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture) & bit) != 0;
    }

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int SendSignal(int pid, int signal);

    [GeneratedRegex(@"^nativereload-([0-9]+)-[0-9a-f]{16}[0-9A-Za-z]{6}$")]
    private static partial Regex DirectoryName();
}
