using NativeReload.Tests.Support;

namespace NativeReload.Tests.EndToEnd;

/// <summary>The user's loop on real tools: run the host, edit the C source, rebuild with cmake, see the change.</summary>
[TestFixture]
[NonParallelizable]
public sealed class EditRebuildTests
{
    [Test]
    public void Host_ShowsTheNewMessage_AfterACmakeRebuild_AndKeepsTheOldOne_WhenTheBuildBreaksTheLibrary()
    {
        using var sample = new SampleProject();
        sample.SetMessage("first edit");
        sample.Build();
        using var host = new HostProcess(["run", sample.LibraryPath, "--every", "50ms"]);
        host.WaitForStdout("message: first edit");

        sample.SetMessage("second edit");
        sample.Build();
        host.WaitForStdout("message: second edit", "the rebuilt message");

        sample.RemoveGetMessage();
        sample.Build();
        host.WaitForStderr(
            l => l.StartsWith($"reload failed: {sample.LibraryPath}: missing export get_message; still running generation", StringComparison.Ordinal),
            "the reload failed line");
        int before = host.Stdout.Count;
        Eventually.That(() => host.Stdout.Count >= before + 3, "ticks after the broken build");
        Assert.That(host.Stdout.Skip(before), Is.All.EqualTo("message: second edit"));

        sample.RestoreGetMessage();
        sample.SetMessage("fixed");
        sample.Build();
        host.WaitForStdout("message: fixed", "the repaired build");
        Assert.That(host.Stderr.Where(l => l.StartsWith("reload failed", StringComparison.Ordinal)), Has.Exactly(1).Items,
            "a normal cmake rebuild (unlink, create, burst of writes) must not produce spurious failures");
    }
}
