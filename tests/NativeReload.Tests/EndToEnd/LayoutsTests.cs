using NativeReload.Tests.Support;

namespace NativeReload.Tests.EndToEnd;

/// <summary>
/// <c>watch</c> rebuilds on every source change in the layouts real projects have (issue 12): real gcc, cmake and cargo
/// builds driving the published host.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class LayoutsTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(1.5);
    private LayoutsProject _project = null!;

    [SetUp]
    public void SetUp() => _project = new LayoutsProject();

    [TearDown]
    public void TearDown() => _project.Dispose();

    private static string Lib => LayoutsProject.LibraryFile("greet");

    [Test]
    public void Watch_Rebuilds_WhenTheLibrarySitsNextToItsSources()
    {
        _project.WriteGreeter("greet.c", "v1");
        using HostProcess host = _project.Watch("./" + Lib, $"gcc -shared -fPIC -o {Lib} greet.c", ".");
        RebuildsOnEverySave(host, message => _project.WriteGreeter("greet.c", message));
    }

    [Test]
    public void Watch_Rebuilds_OnSavesByVimSedAndPython_WhenTheLibrarySitsNextToItsSources()
    {
        RequireTool("vim");
        _project.WriteGreeter("greet.c", "v1");
        using HostProcess host = _project.Watch("./" + Lib, $"gcc -shared -fPIC -o {Lib} greet.c", ".");
        host.WaitForStdout("message: v1", $"the first build's message (stderr: {string.Join(" | ", host.Stderr)})");

        // vim writing by rename (swap file, backup, new file), sed -i (temporary file renamed over), python (in place).
        foreach ((string editor, string message) in new[]
        {
            ("vim -N -u NONE -i NONE -es -c 'set backupcopy=no' -c '%s/v1/v2/' -c 'wq' greet.c", "v2"),
            ("sed -i 's/v2/v3/' greet.c", "v3"),
            ("python3 -c \"p='greet.c'; s=open(p).read(); open(p,'w').write(s.replace('v3','v4'))\"", "v4"),
        })
        {
            _project.Run(editor);
            host.WaitForStdout($"message: {message}", $"the rebuilt library after '{editor}' (stderr: {string.Join(" | ", host.Stderr)})");
        }

        Assert.That(LayoutsProject.BuildsOnceQuiet(host, Quiet), Is.EqualTo(4), $"one build at start and one per save:\n{string.Join("\n", host.Stderr)}");
    }

    [Test]
    public void Watch_Rebuilds_WhenTheLibrarySitsInAParentOfTheSourceFolder()
    {
        _project.WriteGreeter("src/greet.c", "v1");
        using HostProcess host = _project.Watch(Lib, $"gcc -shared -fPIC -o {Lib} src/greet.c", "src");
        RebuildsOnEverySave(host, message => _project.WriteGreeter("src/greet.c", message));
    }

    [Test]
    public void Watch_Rebuilds_WithAnOutOfTreeCMakeBuildFolderInsideTheSources()
    {
        RequireTool("cmake");
        WriteCMakeProject();
        _project.Run("cmake -S . -B cmake-build-debug -DCMAKE_BUILD_TYPE=Debug");
        using HostProcess host = _project.Watch($"cmake-build-debug/{Lib}", "cmake --build cmake-build-debug", ".");
        RebuildsOnEverySave(host, message => _project.WriteGreeter("greet.c", message));
    }

    [Test]
    public void Watch_Rebuilds_WithAnInSourceCMakeBuild()
    {
        RequireTool("cmake");
        WriteCMakeProject();
        _project.Run("cmake -S . -B . -DCMAKE_BUILD_TYPE=Debug -DCMAKE_EXPORT_COMPILE_COMMANDS=ON");
        using HostProcess host = _project.Watch(Lib, "cmake --build .", ".");
        RebuildsOnEverySave(host, message => _project.WriteByRename("greet.c", GreeterSource(message)));
    }

    [Test]
    public void Watch_Rebuilds_ACargoCrate()
    {
        RequireTool("cargo");
        _project.WriteCrate("v1");
        using HostProcess host = _project.Watch($"target/debug/{Lib}", "cargo build --offline", ".");
        RebuildsOnEverySave(host, message => _project.Write("src/lib.rs", LayoutsProject.RustSource(message)));
    }

    [TestCase("bin")]
    [TestCase("out")]
    [TestCase("build")]
    [TestCase("target")]
    public void Watch_Rebuilds_WhenSourcesSitInAFolderNamedLikeBuildOutput(string folder)
    {
        string source = $"src/{folder}/greet.c";
        _project.WriteGreeter(source, "v1");
        using HostProcess host = _project.Watch($"lib/{Lib}", $"mkdir -p lib && gcc -shared -fPIC -o lib/{Lib} {source}", ".");
        RebuildsOnEverySave(host, message => _project.WriteGreeter(source, message));
    }

    [Test]
    public void Watch_Rebuilds_WhenAFolderOfSourcesIsMovedIn()
    {
        _project.WriteGreeter("src/v1/greet.c", "v1");
        _project.WriteGreeter("staging/v2/greet.c", "v2");
        string build = $"gcc -shared -fPIC -o {Lib} $(ls -d src/*/ | sort | tail -n 1)greet.c";
        using HostProcess host = _project.Watch(Lib, build, "src");
        host.WaitForStdout("message: v1", $"the first build's message (stderr: {string.Join(" | ", host.Stderr)})");

        // One event for the folder, none for the file already inside it (as after a checkout or a mv).
        Directory.Move(Path.Combine(_project.Root, "staging", "v2"), Path.Combine(_project.Root, "src", "v2"));
        host.WaitForStdout("message: v2", $"the moved-in folder's source built (stderr: {string.Join(" | ", host.Stderr)})");
    }

    [Test]
    public void Watch_BuildsOncePerEdit_WhenTheBuildWritesAHeaderIntoTheSources()
    {
        _project.WriteGreeter("src/greet.c", "v1");
        string build = $"printf '#define GENERATED 1\\n' > src/generated.h && gcc -shared -fPIC -o {Lib} src/greet.c";
        using HostProcess host = _project.Watch(Lib, build, "src");
        host.WaitForStdout("message: v1", $"the first build's message (stderr: {string.Join(" | ", host.Stderr)})");
        Assert.That(LayoutsProject.BuildsOnceQuiet(host, Quiet), Is.EqualTo(1), "the first build's own header must not start another build");

        _project.WriteGreeter("src/greet.c", "v2");
        host.WaitForStdout("message: v2");
        Assert.That(LayoutsProject.BuildsOnceQuiet(host, Quiet), Is.EqualTo(2), $"exactly one build after one edit:\n{string.Join("\n", host.Stderr)}");
    }

    [Test]
    public void Watch_BuildsOncePerEdit_WhenEveryBuildStampsAnExistingFileInTheSources()
    {
        _project.WriteGreeter("src/greet.c", "v1");
        _project.Write("src/stamp.h", "/* left by an earlier session */\n");
        string build = $"date +%s%N > src/stamp.h && gcc -shared -fPIC -o {Lib} src/greet.c";
        using HostProcess host = _project.Watch(Lib, build, "src");
        host.WaitForStdout("message: v1", $"the first build's message (stderr: {string.Join(" | ", host.Stderr)})");
        int atStart = LayoutsProject.BuildsOnceQuiet(host, Quiet);
        Assert.That(atStart, Is.LessThanOrEqualTo(2), $"a build that rewrites a file must not rebuild itself in a loop:\n{string.Join("\n", host.Stderr)}");

        _project.WriteGreeter("src/greet.c", "v2");
        host.WaitForStdout("message: v2");
        Assert.That(LayoutsProject.BuildsOnceQuiet(host, Quiet), Is.EqualTo(atStart + 1), $"exactly one build after one edit:\n{string.Join("\n", host.Stderr)}");
    }

    /// <summary>Two edits, each rebuilt and shown, and no build besides the first and those two.</summary>
    private static void RebuildsOnEverySave(HostProcess host, Action<string> save)
    {
        host.WaitForStdout("message: v1", $"the first build's message (stderr: {string.Join(" | ", host.Stderr)})");
        foreach (string message in new[] { "v2", "v3" })
        {
            save(message);
            host.WaitForStdout($"message: {message}", $"the rebuilt library's '{message}' after a save (stderr: {string.Join(" | ", host.Stderr)})");
        }

        Assert.That(LayoutsProject.BuildsOnceQuiet(host, Quiet), Is.EqualTo(3), $"one build at start and one per save:\n{string.Join("\n", host.Stderr)}");
    }

    private void WriteCMakeProject()
    {
        _project.WriteGreeter("greet.c", "v1");
        _project.Write("CMakeLists.txt", """
            cmake_minimum_required(VERSION 3.20)
            project(greet C)
            add_library(greet SHARED greet.c)

            """);
    }

    private static string GreeterSource(string message) => $$"""
        __attribute__((visibility("default"))) const char* get_message(void) { return "{{message}}"; }

        """;

    private static void RequireTool(string tool)
    {
        if (!LayoutsProject.OnPath(tool))
        {
            Assert.Ignore($"{tool} is not installed here");
        }
    }
}
