using NativeReload.Tests.Support;

namespace NativeReload.Tests.Isolation;

/// <summary><c>nativereload run --isolate</c>: the scenario end to end, through the published host.</summary>
[TestFixture]
[NonParallelizable]
public sealed class IsolatedCliTests
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
}
