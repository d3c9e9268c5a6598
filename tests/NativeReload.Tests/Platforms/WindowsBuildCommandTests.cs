using System.Diagnostics;
using System.Text;
using NativeReload.Building;

namespace NativeReload.Tests.Platforms;

/// <summary>
/// cmd.exe gets the user's build line exactly as typed (issue 15 item 1): <c>cmd /d /s /c "&lt;line&gt;"</c>. With
/// <see cref="ProcessStartInfo.ArgumentList"/> .NET escapes inner quotes as <c>\"</c>, which cmd does not undo, so a
/// quoted path with a space failed with exit 9009. The string checks run on every OS; the run only on Windows/Wine.
/// </summary>
[TestFixture]
public sealed class WindowsBuildCommandTests
{
    [TestCase(@"""C:\build dir\build.bat""")]
    [TestCase(@"cmake --build ""C:\my project\build"" --config Release")]
    [TestCase(@"""C:\tools dir\make.cmd"" ""arg with space"" && echo done")]
    [TestCase("build.bat")]
    public void OnWindows_CmdGetsTheLineAsTyped_InsideOneOuterPairOfQuotes(string line)
    {
        ProcessStartInfo start = BuildCommandRunner.CreateStartInfo(line, ".", windows: true);
        Assert.That(start.FileName, Is.EqualTo("cmd.exe"));
        Assert.That(CommandLineOf(start), Is.EqualTo($"/d /s /c \"{line}\""));
    }

    [Test]
    public void OnUnix_TheShellGetsTheLineAsOneArgument()
    {
        const string Line = "cmake --build \"my build\" && echo 'done'";
        ProcessStartInfo start = BuildCommandRunner.CreateStartInfo(Line, ".", windows: false);
        Assert.That(start.FileName, Is.EqualTo("/bin/sh"));
        Assert.That(start.ArgumentList, Is.EqualTo(new[] { "-c", Line }));
        Assert.That(start.Arguments, Is.Empty);
    }

    [Test]
    public async Task OnWindows_AQuotedBatchFileInAFolderWithASpace_Runs()
    {
        if (!OperatingSystem.IsWindows())
        {
            Assert.Ignore("runs cmd.exe: Windows (or Wine, tools/check-windows.sh) only");
        }

        string folder = Directory.CreateTempSubdirectory("nativereload build dir ").FullName;
        try
        {
            string script = Path.Combine(folder, "build.bat");
            await File.WriteAllTextAsync(script, "@echo built from %~dp0\r\n@exit /b 0\r\n");
            var lines = new List<string>();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            BuildResult result = await BuildCommandRunner.RunAsync($"\"{script}\"", folder, line => { lock (lines) { lines.Add(line); } }, timeout.Token);
            Assert.That(result.ExitCode, Is.EqualTo(0), string.Join(Environment.NewLine, lines));
            Assert.That(lines, Has.Some.StartsWith("built from"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// The command line the child process receives on Windows: <see cref="ProcessStartInfo.Arguments"/> as is, or
    /// <see cref="ProcessStartInfo.ArgumentList"/> joined the way .NET does it there (quote an argument holding a
    /// space or a quote, escape its quotes as <c>\"</c> and the backslashes before them).
    /// </summary>
    private static string CommandLineOf(ProcessStartInfo start)
    {
        if (start.ArgumentList.Count == 0)
        {
            return start.Arguments;
        }

        var line = new StringBuilder();
        foreach (string argument in start.ArgumentList)
        {
            if (line.Length > 0)
            {
                line.Append(' ');
            }

            if (argument.Length > 0 && argument.IndexOfAny([' ', '\t', '"']) < 0)
            {
                line.Append(argument);
                continue;
            }

            line.Append('"');
            int backslashes = 0;
            foreach (char c in argument)
            {
                if (c == '\\')
                {
                    backslashes++;
                    continue;
                }

                line.Append('\\', c == '"' ? (backslashes * 2) + 1 : backslashes);
                backslashes = 0;
                line.Append(c);
            }

            line.Append('\\', backslashes * 2).Append('"');
        }

        return line.ToString();
    }
}
