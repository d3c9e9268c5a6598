using System.Runtime.InteropServices;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Isolation;

/// <summary><c>nativereload run --isolate</c>: the scenario end to end, through the published host.</summary>
[TestFixture]
[NonParallelizable]
public sealed partial class IsolatedCliTests
{
    private LibraryDirectory _dir = null!;

    [SetUp]
    public void SetUp()
    {
        if (!TestPaths.HasFixtureGroup("crash"))
        {
            Assert.Fail("the crash fixtures were not built (build/fixtures/fixtures.txt has no 'crash')");
        }

        _dir = new LibraryDirectory("greeter");
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public void SegfaultingBuild_PrintsOneCrashLine_KeepsPrintingTheOldMessage_AndPicksUpTheNextGoodBuild()
    {
        _dir.ReplaceByRename("greeter_v1");
        using var host = new HostProcess(["run", "--isolate", _dir.LibraryPath, "--every", "100ms"]);
        host.WaitForStdout("message: Hello from v1");

        _dir.ReplaceByRename("crash_segv");
        string crashLine = $"crashed: {_dir.LibraryPath} generation 2 ({IsolatedLibraryTests.Expected.Segv})";
        host.WaitForStderr(line => line == crashLine, crashLine);
        int afterCrash = host.Stdout.Count;
        Eventually.That(() => host.Stdout.Count >= afterCrash + 3, "three more ticks after the crash");
        Assert.That(host.Stdout.Skip(afterCrash).Take(3), Is.All.EqualTo("message: Hello from v1"), "the good generation answers");

        _dir.ReplaceByRename("greeter_v2");
        host.WaitForStdout("message: Hello from v2");
        host.Terminate();
        Assert.Multiple(() =>
        {
            Assert.That(host.WaitForExit(), Is.Zero);
            Assert.That(host.Stderr.Count(line => line.StartsWith("crashed:", StringComparison.Ordinal)), Is.EqualTo(1), string.Join(" | ", host.Stderr));
            Assert.That(host.Stderr, Has.Some.StartsWith($"reloaded {_dir.LibraryPath} (generation 3, "));
            Assert.That(host.Stdout, Is.All.StartsWith("message: Hello from v"), "stdout carries only message lines; no tick printed anything else");
        });
    }

    [Test]
    public void HangingBuild_WithAShortTimeout_IsKilledAndReported()
    {
        _dir.ReplaceByRename("greeter_v1");
        using var host = new HostProcess(["run", "--isolate", _dir.LibraryPath, "--every", "100ms", "--timeout", "300ms"]);
        host.WaitForStdout("message: Hello from v1");
        _dir.ReplaceByRename("crash_hang");
        host.WaitForStderr(line => line == $"crashed: {_dir.LibraryPath} generation 2 (no answer within 300 ms)", "the hang reported as a crash");
        int afterCrash = host.Stdout.Count;
        Eventually.That(() => host.Stdout.Count >= afterCrash + 2, "the loop goes on");
        Assert.That(host.Stdout.Last(), Is.EqualTo("message: Hello from v1"));
        host.Terminate();
        Assert.That(host.WaitForExit(), Is.Zero);
    }

    [Test]
    public void TimeoutWithoutIsolate_IsAUsageError()
    {
        _dir.ReplaceByRename("greeter_v1");
        using var host = new HostProcess(["run", _dir.LibraryPath, "--timeout", "1s", "--count", "1"]);
        Assert.That(host.WaitForExit(), Is.EqualTo(2));
        Assert.That(host.Stderr, Does.Contain("error: --timeout needs --isolate"));
    }
    [Test]
    public void RunIsolateWithCount_WhenNoCallPrintedAMessage_ExitsOne_WithOneLineSayingSo_AndNeverSpeaksOfABuild()
    {
        _dir.ReplaceByRename("crash_segv");
        using var host = new HostProcess(["run", "--isolate", _dir.LibraryPath, "--every", "50ms", "--count", "3"]);
        int exit = host.WaitForExit();
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(1), string.Join(" | ", host.Stderr));
            Assert.That(host.Stdout, Is.Empty);
            Assert.That(host.Stderr.Where(line => line.Contains("3 calls", StringComparison.Ordinal)),
                Is.EqualTo(new[] { $"error: {_dir.LibraryPath}: none of the 3 calls printed a message" }));
            Assert.That(host.Stderr, Has.None.Contains("build"), "run builds nothing: no line may wait for a build");
        });
    }

    [Test]
    public void HostKilledWhileTheLibraryHangs_TheWorkerDoesNotOutliveIt()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("finds the worker through /proc");
        }

        _dir.ReplaceByRename("crash_hang");
        using var host = new HostProcess(["run", "--isolate", _dir.LibraryPath, "--every", "100ms", "--timeout", "60s"]);
        int worker = 0;
        Eventually.That(() => (worker = ChildOf(host.Pid)) != 0, "the worker process");
        Thread.Sleep(1000); // the first tick is in get_message now, which never returns
        Assert.That(Alive(worker), Is.True, "the worker hangs in the library");

        Assert.That(Kill(host.Pid, 9), Is.Zero, "SIGKILL the host");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            Eventually.That(() => !Alive(worker), $"worker {worker} to end after its host was killed", TimeSpan.FromSeconds(5));
            TestContext.Out.WriteLine($"worker gone {clock.Elapsed.TotalMilliseconds:0.0} ms after SIGKILL of the host");
        }
        finally
        {
            if (Alive(worker))
            {
                Kill(worker, 9); // do not leave it behind when the test fails
            }
        }
    }

    /// <summary>A child process of <paramref name="pid"/> (from /proc/*/stat), 0 when none.</summary>
    private static int ChildOf(int pid)
    {
        foreach (string directory in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out int candidate))
            {
                continue;
            }

            try
            {
                string stat = File.ReadAllText(Path.Combine(directory, "stat"));
                string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) == pid)
                {
                    return candidate;
                }
            }
            catch (IOException)
            {
                // it ended while we looked
            }
        }

        return 0;
    }

    /// <summary>Running (a zombie waiting for a reaper counts as gone: it runs no code).</summary>
    private static bool Alive(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
