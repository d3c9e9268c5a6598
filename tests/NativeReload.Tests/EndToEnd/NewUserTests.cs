using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.EndToEnd;

/// <summary>
/// What a new user does (issue 13): pack the library to a local folder, create a fresh console app that references
/// it by package (not by project), paste the README's "Using the library" block as Program.cs, build it, run it on a
/// library compiled with plain gcc, rebuild that library, and see the new text.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed partial class NewUserTests
{
    private static readonly TimeSpan Step = TimeSpan.FromMinutes(4);
    private string _work = null!;

    [SetUp]
    public void SetUp() => _work = Directory.CreateTempSubdirectory("nativereload-newuser-").FullName;

    [TearDown]
    public void TearDown()
    {
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
    }

    [Test]
    public void ReadmeSnippet_InAFreshConsoleApp_UsingThePackage_HotReloadsARebuiltLibrary()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("compiles the native library with gcc into a .so");
        }

        (string code, bool needsUnsafe) = ReadmeLibraryBlock();
        string version = $"0.0.0-newuser.{DateTime.UtcNow:yyyyMMddHHmmssfff}";
        string packages = Path.Combine(_work, "packages");
        string app = Path.Combine(_work, "app");

        Run("dotnet", ["pack", Path.Combine(TestPaths.RepoRoot, "managed", "NativeReload"), "-c", "Release", "--no-build", "--nologo",
            "-o", packages, $"-p:PackageVersion={version}"], TestPaths.RepoRoot);
        Run("dotnet", ["new", "console", "-o", app, "--framework", "net10.0"], _work);
        File.WriteAllText(Path.Combine(_work, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="local" value="{packages}" />
              </packageSources>
            </configuration>
            """);
        Run("dotnet", ["add", app, "package", "NativeReload", "--version", version], _work);
        if (needsUnsafe)
        {
            // The README says so next to the block: the hand-written table needs it.
            string project = Path.Combine(app, "app.csproj");
            File.WriteAllText(project, File.ReadAllText(project).Replace("</PropertyGroup>", "  <AllowUnsafeBlocks>true</AllowUnsafeBlocks>\n  </PropertyGroup>", StringComparison.Ordinal));
        }

        File.WriteAllText(Path.Combine(app, "Program.cs"), code);
        Run("dotnet", ["build", app, "-c", "Release", "--nologo", "-v", "q"], _work);

        string library = Path.Combine(app, LibraryPathIn(code));
        CompileGreeter(library, "first build");

        var output = new ConcurrentQueue<string>();
        using var host = new Process
        {
            StartInfo = new ProcessStartInfo("dotnet", [Path.Combine(app, "bin", "Release", "net10.0", "app.dll")])
            {
                WorkingDirectory = app,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            },
        };
        host.OutputDataReceived += (_, e) => { if (e.Data is not null) { output.Enqueue(e.Data); } };
        host.ErrorDataReceived += (_, e) => { if (e.Data is not null) { output.Enqueue("stderr: " + e.Data); } };
        host.Start();
        host.BeginOutputReadLine();
        host.BeginErrorReadLine();
        try
        {
            Eventually.That(() => output.Contains("first build"), "the app prints the first build's message", TimeSpan.FromSeconds(60));
            CompileGreeter(library, "second build");
            Eventually.That(() => output.Contains("second build"), "the app prints the rebuilt library's message", TimeSpan.FromSeconds(30));
            Assert.That(output.Where(l => l.StartsWith("stderr:", StringComparison.Ordinal)), Is.Empty, "nothing on stderr");
        }
        finally
        {
            host.Kill(entireProcessTree: true);
            host.WaitForExit(10_000);
        }
    }

    /// <summary>The first C# block under "## Using the library" in README.md, and whether it is marked as needing unsafe code.</summary>
    private static (string Code, bool NeedsUnsafe) ReadmeLibraryBlock()
    {
        string readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md"));
        int section = readme.IndexOf("## Using the library", StringComparison.Ordinal);
        Assert.That(section, Is.GreaterThanOrEqualTo(0), "README has a 'Using the library' section");
        Match block = CSharpBlock().Match(readme, section);
        Assert.That(block.Success, Is.True, "the section has a C# block");
        return (block.Groups["code"].Value, block.Groups["directive"].Value.Contains("unsafe", StringComparison.Ordinal));
    }

    /// <summary>The library path the snippet loads (a string literal ending in .so).</summary>
    private static string LibraryPathIn(string code)
    {
        Match path = SoPath().Match(code);
        Assert.That(path.Success, Is.True, "the snippet names a .so to load");
        return path.Groups[1].Value;
    }

    /// <summary>Builds a one-function library that returns <paramref name="message"/>, and renames it into place (as lld and mold do).</summary>
    private void CompileGreeter(string library, string message)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(library)!);
        string source = Path.Combine(_work, "greet.c");
        File.WriteAllText(source, $"__attribute__((visibility(\"default\"))) const char* get_message(void) {{ return \"{message}\"; }}\n");
        string temporary = library + ".tmp";
        Run("gcc", ["-shared", "-fPIC", "-o", temporary, source], _work);
        File.Move(temporary, library, overwrite: true);
    }

    private static void Run(string command, string[] arguments, string directory)
    {
        var start = new ProcessStartInfo(command, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Step))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{command} {string.Join(' ', arguments)} did not finish within {Step.TotalMinutes} min");
        }

        Assert.That(process.ExitCode, Is.Zero, $"{command} {string.Join(' ', arguments)}:\n{stdout.Result}\n{stderr.Result}");
    }

    [GeneratedRegex(@"(?<directive><!--[^\n]*-->\s*\n)?```csharp\n(?<code>.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex("\"([^\"]+\\.so)\"")]
    private static partial Regex SoPath();
}
