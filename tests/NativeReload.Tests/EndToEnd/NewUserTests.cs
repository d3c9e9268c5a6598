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
    private PackageWorkspace _workspace = null!;

    private string Work => _workspace.Path;

    [SetUp]
    public void SetUp() => _workspace = new PackageWorkspace();

    [TearDown]
    public void TearDown() => _workspace.Dispose();

    [Test]
    public void ReadmeSnippet_InAFreshConsoleApp_UsingThePackage_HotReloadsARebuiltLibrary()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("compiles the native library with gcc into a .so");
        }

        (string code, bool needsUnsafe) = ReadmeLibraryBlock();
        string app = Path.Combine(Work, "app");
        _workspace.PackLibrary();
        Run("dotnet", ["new", "console", "-o", app, "--framework", "net10.0"], Work);
        Run("dotnet", ["add", app, "package", "NativeReload", "--version", _workspace.Version], Work);
        if (needsUnsafe)
        {
            // The README says so next to the block: the hand-written table needs it.
            string project = Path.Combine(app, "app.csproj");
            File.WriteAllText(project, File.ReadAllText(project).Replace("</PropertyGroup>", "  <AllowUnsafeBlocks>true</AllowUnsafeBlocks>\n  </PropertyGroup>", StringComparison.Ordinal));
        }

        File.WriteAllText(Path.Combine(app, "Program.cs"), code);
        Run("dotnet", ["build", app, "-c", "Release", "--nologo", "-v", "q"], Work);

        string library = Path.Combine(app, LibraryPathIn(code));
        CompileGreeter(library, "first build");

        using var host = PackageWorkspace.Start(Path.Combine(app, "bin", "Release", "net10.0", "app.dll"), app);
        Eventually.That(() => host.Output.Contains("first build"), "the app prints the first build's message", TimeSpan.FromSeconds(60));
        CompileGreeter(library, "second build");
        Eventually.That(() => host.Output.Contains("second build"), "the app prints the rebuilt library's message", TimeSpan.FromSeconds(30));
        Assert.That(host.Output.Where(l => l.StartsWith("stderr:", StringComparison.Ordinal)), Is.Empty, "nothing on stderr");
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
        string source = Path.Combine(Work, "greet.c");
        File.WriteAllText(source, $"__attribute__((visibility(\"default\"))) const char* get_message(void) {{ return \"{message}\"; }}\n");
        string temporary = library + ".tmp";
        Run("gcc", ["-shared", "-fPIC", "-o", temporary, source], Work);
        File.Move(temporary, library, overwrite: true);
    }

    private static void Run(string command, string[] arguments, string directory) => PackageWorkspace.Run(command, arguments, directory);

    [GeneratedRegex(@"(?<directive><!--[^\n]*-->\s*\n)?```csharp\n(?<code>.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex("\"([^\"]+\\.so)\"")]
    private static partial Regex SoPath();
}
