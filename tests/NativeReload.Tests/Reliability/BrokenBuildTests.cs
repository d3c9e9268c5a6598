using System.Diagnostics;
using NativeReload.Reloading;
using NativeReload.Tests.Support;
using static NativeReload.Tests.Reliability.ReliabilitySupport;

namespace NativeReload.Tests.Reliability;

/// <summary>
/// Every way a build or a disk can put something unloadable at the library path: the running generation keeps
/// serving, exactly one failure names the file and the reason, and the next good build is picked up.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class BrokenBuildTests
{
    private LibraryDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new LibraryDirectory();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public void ZeroLengthFile_IsReportedOnceAsEmpty() =>
        BreakThenRepair(() => _dir.ReplaceByRename([]), ReloadFailureReason.Empty, "empty");

    [Test]
    public void TruncatedLibrary_IsReportedOnceAsIncomplete()
    {
        byte[] whole = File.ReadAllBytes(TestPaths.Fixture("greeter_v2"));
        BreakThenRepair(() => _dir.ReplaceByRename(whole[..(whole.Length / 2)]), ReloadFailureReason.Incomplete, "incomplete");
    }

    [Test]
    public void RandomBytesWithALibraryExtension_AreReportedOnceAsNotALibrary()
    {
        byte[] noise = new byte[16 * 1024];
        new Random(1234).NextBytes(noise);
        BreakThenRepair(() => _dir.ReplaceByRename(noise), ReloadFailureReason.NotALibrary, "not a shared library");
    }

    [Test]
    public void LibraryForAnotherArchitecture_IsReportedOnceAsWrongArchitecture()
    {
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64)
        {
            Assert.Ignore("patches an x86-64 ELF fixture to aarch64; needs a non-arm64 Linux host");
        }

        byte[] aarch64 = WithElfMachine("greeter_v2", 183);
        BreakThenRepair(() => _dir.ReplaceByRename(aarch64), ReloadFailureReason.WrongArchitecture, "wrong architecture");
    }

    [Test]
    public void RequiredExportMissing_IsReportedOnceAsMissingExport() =>
        BreakThenRepair(() => _dir.ReplaceByRename("greeter_nomsg"), ReloadFailureReason.MissingExport, "get_message");

    [Test]
    public void FileDeleted_IsReportedOnceAfterTheSettleTimeout_AndTheRecreatedFileIsLoaded() =>
        BreakThenRepair(
            () => File.Delete(_dir.LibraryPath),
            ReloadFailureReason.FileMissing,
            "not found",
            repair: () => File.WriteAllBytes(_dir.LibraryPath, File.ReadAllBytes(TestPaths.Fixture("greeter_v2"))),
            reportedNotBefore: SettleTimeout);

    [Test]
    public void DirectoryAtThePath_IsReportedOnceAsNotAFile() =>
        BreakThenRepair(
            () =>
            {
                File.Delete(_dir.LibraryPath);
                Directory.CreateDirectory(_dir.LibraryPath);
            },
            ReloadFailureReason.NotAFile,
            "directory",
            repair: () =>
            {
                Directory.Delete(_dir.LibraryPath);
                _dir.ReplaceByRename("greeter_v2");
            });

    [Test]
    public void DanglingSymlinkAtThePath_IsReportedOnceAsMissing()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("symbolic links need privileges on Windows");
        }

        BreakThenRepair(
            () =>
            {
                string link = _dir.LibraryPath + ".link";
                File.CreateSymbolicLink(link, Path.Combine(_dir.Path, "libgone.so"));
                File.Move(link, _dir.LibraryPath, overwrite: true); // like ln -sfn: atomic
            },
            ReloadFailureReason.FileMissing,
            "dangling symbolic link",
            reportedNotBefore: SettleTimeout);
    }

    [Test]
    public void UnreadableFile_IsReportedAsAccessDenied_WhileTheOldGenerationServes()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("uses Linux file modes and a per-thread file system uid");
        }

        _dir.ReplaceByRename("greeter_v1");
        using var library = new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, GreeterExports.Bind, Options(watch: false));
        var recorder = new LibraryRecorder<GreeterExports>(library);

        // The directory must be searchable by the unprivileged uid, or it would see "not found" instead.
        Chmod(_dir.Path, (UnixFileMode)0b111_101_101);
        _dir.ReplaceByRename("greeter_v2");
        Chmod(_dir.LibraryPath, UnixFileMode.None);

        // As root, mode 000 does not deny a read: check this thread's file access as "nobody" (65534).
        using (FileAccessAs(65534))
        {
            Assert.That(() => File.ReadAllBytes(_dir.LibraryPath), Throws.InstanceOf<UnauthorizedAccessException>(), "the file must really be unreadable");
            Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));
        }

        ReloadFailedEventArgs failure = recorder.Failures.Single();
        AssertFailure(failure, ReloadFailureReason.AccessDenied, "permission denied");
        Assert.That(Message(library), Is.EqualTo("Hello from v1"));

        Chmod(_dir.LibraryPath, (UnixFileMode)0b110_100_100);
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded), "the now readable build");
        Assert.That(Message(library), Is.EqualTo("Hello from v2"));
        Assert.That(recorder.Failures, Has.Count.EqualTo(1));
        Assert.That(library.LastFailure, Is.Null);
    }

    [Test]
    public void UnreadableFile_SeenByTheWatcher_InAnUnprivilegedHost_PrintsOneLine()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("uses Linux file modes and setpriv");
        }

        if (!File.Exists(TestPaths.Cli))
        {
            Assert.Fail($"the published CLI {TestPaths.Cli} is missing: run ./build.sh build (it publishes it)");
        }

        // The watcher's thread cannot be given a lower fsuid from here, so run a whole host as an unprivileged user
        // when we are root (where mode 000 would not deny reads), or as ourselves otherwise.
        bool root = IsRoot;
        if (root && !File.Exists("/usr/bin/setpriv"))
        {
            Assert.Ignore("running as root and setpriv(1) is missing: cannot run the host unprivileged");
        }

        Chmod(_dir.Path, (UnixFileMode)0b111_111_111); // the unprivileged host needs to create nothing here, but must read
        _dir.ReplaceByRename("greeter_v1");
        Chmod(_dir.LibraryPath, (UnixFileMode)0b110_100_100);
        string shadowRoot = Directory.CreateTempSubdirectory("nr-shadow-root-").FullName;
        Chmod(shadowRoot, (UnixFileMode)0b111_111_111 | UnixFileMode.StickyBit);
        try
        {
            var start = new ProcessStartInfo(root ? "/usr/bin/setpriv" : TestPaths.Cli)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            if (root)
            {
                foreach (string argument in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", TestPaths.Cli })
                {
                    start.ArgumentList.Add(argument);
                }
            }

            foreach (string argument in new[] { "run", _dir.LibraryPath, "--every", "100ms" })
            {
                start.ArgumentList.Add(argument);
            }

            start.Environment["NATIVERELOAD_SHADOW_ROOT"] = shadowRoot;
            start.Environment["HOME"] = shadowRoot;
            start.Environment["DOTNET_CLI_HOME"] = shadowRoot;
            using var host = new CliHost(start);
            host.WaitForOutput(o => o.Contains("message: Hello from v1", StringComparison.Ordinal), "the first message");

            byte[] v2 = File.ReadAllBytes(TestPaths.Fixture("greeter_v2"));
            string temporary = _dir.LibraryPath + ".tmp";
            File.WriteAllBytes(temporary, v2);
            Chmod(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite); // root only: unreadable for the host
            File.Move(temporary, _dir.LibraryPath, overwrite: true);

            string expected = $"reload failed: {_dir.LibraryPath}: permission denied (cannot read the file); still running generation 1";
            host.WaitForError(e => e.Contains(expected, StringComparison.Ordinal), "the permission denied line");
            Thread.Sleep(SettleTimeoutOfTheCli * 2);
            Assert.That(host.ErrorLines.Count(l => l.StartsWith("reload failed:", StringComparison.Ordinal)), Is.EqualTo(1), "exactly one line: " + host.Error);
            Assert.That(host.Output, Does.Not.Contain("Hello from v2"));

            Chmod(_dir.LibraryPath, (UnixFileMode)0b110_100_100);
            host.WaitForOutput(o => o.Contains("message: Hello from v2", StringComparison.Ordinal), "the now readable build");
        }
        finally
        {
            Directory.Delete(shadowRoot, recursive: true);
        }
    }

    private static readonly TimeSpan SettleTimeoutOfTheCli = new ReloadableLibraryOptions().SettleTimeout + TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Loads v1, breaks the file, checks the single failure (waiting well past the settle timeout for a second one
    /// that must not come), then repairs it (v2 by default) and checks that v2 runs.
    /// </summary>
    private void BreakThenRepair(Action breakIt, ReloadFailureReason reason, string detailFragment, Action? repair = null, TimeSpan? reportedNotBefore = null)
    {
        _dir.ReplaceByRename("greeter_v1");
        using var library = new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, GreeterExports.Bind, Options());
        var recorder = new LibraryRecorder<GreeterExports>(library);
        Assert.That(Message(library), Is.EqualTo("Hello from v1"));

        var sinceBreak = Stopwatch.StartNew();
        breakIt();
        Eventually.That(() => !recorder.Failures.IsEmpty, $"a {reason} failure");
        TimeSpan reportedAfter = sinceBreak.Elapsed;
        if (reportedNotBefore is { } minimum)
        {
            Assert.That(reportedAfter, Is.GreaterThanOrEqualTo(minimum - TimeSpan.FromMilliseconds(50)), "a transient state must only be reported once it settled");
        }

        // Well past the settle timeout and several poll intervals: still exactly one report.
        TimeSpan quietUntil = reportedAfter + SettleTimeout + SettleTimeout + TimeSpan.FromMilliseconds(500);
        Thread.Sleep(quietUntil - sinceBreak.Elapsed);

        Assert.That(recorder.Failures, Has.Count.EqualTo(1), () => "exactly one report, got: " + string.Join(" | ", recorder.Failures.Select(f => $"{f.Reason}: {f.Detail}")));
        AssertFailure(recorder.Failures.Single(), reason, detailFragment);
        Assert.That(recorder.Reloads, Is.Empty, "nothing was loaded from the broken file");
        Assert.That(Message(library), Is.EqualTo("Hello from v1"), "the running generation keeps serving");
        Assert.That(library.Current.Number, Is.EqualTo(1));
        Assert.That(library.LastFailure?.Reason, Is.EqualTo(reason));

        (repair ?? (() => _dir.ReplaceByRename("greeter_v2")))();
        Eventually.That(() => Message(library) == "Hello from v2", "the next good build");
        Assert.That(library.Current.Number, Is.EqualTo(2));
        Assert.That(library.LastFailure, Is.Null);
        Assert.That(recorder.Failures, Has.Count.EqualTo(1), "repairing reports nothing");
    }

    private void AssertFailure(ReloadFailedEventArgs failure, ReloadFailureReason reason, string detailFragment)
    {
        TestContext.Out.WriteLine($"{reason}: {failure.Detail}");
        Assert.Multiple(() =>
        {
            Assert.That(failure.Reason, Is.EqualTo(reason));
            Assert.That(failure.Detail, Does.Contain(detailFragment).IgnoreCase);
            Assert.That(failure.FilePath, Is.EqualTo(_dir.LibraryPath));
            Assert.That(failure.RunningGeneration, Is.EqualTo(1));
            Assert.That(failure.Failure.Message, Is.EqualTo($"{_dir.LibraryPath}: {failure.Detail}"), "the message names the file and the reason");
            Assert.That(failure.Detail, Does.Not.Contain("\n").And.Not.Contain("\r").And.Not.Contain("   at "), "the reason fits one line: no line break, no stack trace");
        });
    }
}
