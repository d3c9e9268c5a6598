using System.Diagnostics;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.EndToEnd;

/// <summary>The embedding example of docs/api-guide.md (samples/GameLoopHost) builds and reloads for real.</summary>
[TestFixture]
[NonParallelizable]
public sealed class GameLoopSampleTests
{
    [Test]
    public void GameLoopHost_SwitchesToTheNewBuild_AtTheTopOfAFrame()
    {
        // Built with the solution, beside this test assembly: artifacts/dotnet/bin/<project>/<configuration>/.
        var testDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string sample = Path.Combine(testDir.Parent!.Parent!.FullName, "GameLoopHost", testDir.Name, "GameLoopHost.dll");
        Assert.That(File.Exists(sample), Is.True, $"{sample} missing: build NativeReload.sln");

        using var dir = new LibraryDirectory("game");
        dir.ReplaceByRename("greeter_v1");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { sample, dir.LibraryPath, "100000" })
        {
            start.ArgumentList.Add(a);
        }

        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is { } l) { lines.Enqueue(l); } };
        process.Start();
        process.BeginOutputReadLine();
        try
        {
            Eventually.That(() => lines.Any(l => l.EndsWith(": Hello from v1 (2 + 3 = 1005)", StringComparison.Ordinal)), "a v1 frame");
            dir.ReplaceByRename("greeter_v2");
            Eventually.That(() => lines.Any(l => l.EndsWith(": Hello from v2 (2 + 3 = 2005)", StringComparison.Ordinal)), "a v2 frame");
            Assert.That(lines, Has.All.Match(@"^frame \d+: Hello from v[12] \(2 \+ 3 = [12]005\)$"));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
    }
}
