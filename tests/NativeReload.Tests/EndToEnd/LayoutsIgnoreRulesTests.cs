using NativeReload.Tests.Support;

namespace NativeReload.Tests.EndToEnd;

/// <summary><c>watch</c> says what it watches and why it ignores a change, honours .gitignore and --ignore (issue 12).</summary>
[TestFixture]
[NonParallelizable]
public sealed class LayoutsIgnoreRulesTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(1);
    private LayoutsProject _project = null!;

    [SetUp]
    public void SetUp() => _project = new LayoutsProject();

    [TearDown]
    public void TearDown() => _project.Dispose();

    private static string Lib => LayoutsProject.LibraryFile("greet");

    private static string Build => $"gcc -shared -fPIC -o {Lib} greet.c";

    [Test]
    public void Watch_SaysWhatItWatches_InOneLineAtStart()
    {
        _project.WriteGreeter("greet.c", "v1");
        _project.Write("greet.h", "\n");
        _project.Write("old.o", "");
        _project.Write(".gitignore", "notes/\n");
        _project.Write("notes/todo.txt", "\n");
        using HostProcess host = _project.Watch(Lib, Build, ".", "--ignore", "*.md");
        host.WaitForStdout("message: v1");
        Assert.That(host.Stderr.First(), Is.EqualTo($"watching ./ (2 files; ignoring {Lib}, *.o, notes/, .gitignore rules, *.md)"));
    }

    [Test]
    public void Watch_Exits2_WithOneLine_WhenNoFileUnderSourceWouldStartABuild()
    {
        _project.Write("out/greet.o", "");
        _project.Write("out/libgreet.so", "");
        using HostProcess host = _project.Watch(Lib, Build, "out");
        Assert.That(host.WaitForExit(), Is.EqualTo(2));
        Assert.That(host.Stderr, Has.Count.EqualTo(1), string.Join("\n", host.Stderr));
        Assert.That(host.Stderr.Single(), Does.StartWith("error: out: no file here would start a build (2 ignored: *.o, *.so)"));
        Assert.That(host.Stdout, Is.Empty);
    }

    [Test]
    public void Watch_DoesNotBuild_ForGitignoredFiles_AndSaysWhyAtDebug()
    {
        _project.WriteGreeter("greet.c", "v1");
        _project.Write(".gitignore", "*.txt\nscratch/\n");
        _project.Write("scratch/try.c", "int x;\n"); // the folder exists before: a watcher misses files in a folder created a moment ago
        using HostProcess host = _project.Watch(Lib, Build, ".", "--log-level", "Debug");
        host.WaitForStdout("message: v1");
        int atStart = LayoutsProject.BuildsOnceQuiet(host, Quiet);

        _project.Write("notes.txt", "not a source\n");
        _project.Write("scratch/try.c", "int y;\n");
        host.WaitForStderr(l => l.Contains("Ignored change to notes.txt: .gitignore rule '*.txt", StringComparison.Ordinal), "the Debug line naming the .gitignore rule");
        host.WaitForStderr(l => l.Contains("Ignored change to scratch/try.c: .gitignore rule 'scratch/", StringComparison.Ordinal), "the Debug line for the ignored folder");
        Assert.That(LayoutsProject.BuildsOnceQuiet(host, Quiet), Is.EqualTo(atStart), string.Join("\n", host.Stderr));

        _project.WriteGreeter("greet.c", "v2");
        host.WaitForStdout("message: v2", "a source change still builds");
    }

    [Test]
    public void Watch_DoesNotBuild_ForFilesMatchingAnIgnoreGlob()
    {
        _project.WriteGreeter("greet.c", "v1");
        _project.Write("docs/guide.c", "int x;\n");
        using HostProcess host = _project.Watch(Lib, Build, ".", "--ignore", "docs/", "--ignore", "*.md", "--log-level", "Debug");
        host.WaitForStdout("message: v1");
        int atStart = LayoutsProject.BuildsOnceQuiet(host, Quiet);

        _project.Write("docs/guide.c", "int y;\n");
        _project.Write("README.md", "# notes\n");
        host.WaitForStderr(l => l.Contains("Ignored change to docs/guide.c: --ignore docs/", StringComparison.Ordinal), "the Debug line naming the glob");
        host.WaitForStderr(l => l.Contains("Ignored change to README.md: --ignore *.md", StringComparison.Ordinal), "the Debug line naming the glob");
        Assert.That(LayoutsProject.BuildsOnceQuiet(host, Quiet), Is.EqualTo(atStart), string.Join("\n", host.Stderr));
    }

    [Test]
    public void Watch_LogsEveryIgnoredChange_WithItsRule_AtDebug()
    {
        _project.WriteGreeter("greet.c", "v1");
        using HostProcess host = _project.Watch(Lib, Build, ".", "--log-level", "Debug");
        host.WaitForStdout("message: v1");
        _project.Write("greet.o", "");
        _project.Write("greet.c~", "");
        host.WaitForStderr(l => l.Contains($"Ignored change to {Lib}: the library itself", StringComparison.Ordinal), "the library's own write, at Debug");
        host.WaitForStderr(l => l.Contains("Ignored change to greet.o: build output (*.o)", StringComparison.Ordinal), "an object file, at Debug");
        host.WaitForStderr(l => l.Contains("Ignored change to greet.c~: editor temporary file", StringComparison.Ordinal), "an editor backup, at Debug");
    }
}
