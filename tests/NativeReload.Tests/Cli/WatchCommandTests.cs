using System.Text.RegularExpressions;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Cli;

/// <summary><c>nativereload watch</c>: edit, save, see it — on a private copy of the C sample, rebuilt with cmake.</summary>
[TestFixture]
[NonParallelizable]
public sealed partial class WatchCommandTests
{
    private SampleProject _sample = null!;

    [SetUp]
    public void SetUp() => _sample = new SampleProject();

    [TearDown]
    public void TearDown() => _sample.Dispose();

    private HostProcess StartWatch(string? buildCommand = null) =>
        new(["watch", _sample.LibraryPath, "--build", buildCommand ?? $"cmake --build \"{_sample.BuildDir}\"", "--source", _sample.Root, "--every", "100ms"]);

    [Test]
    public void Watch_BuildsFirst_ThenShowsTheNewMessage_AfterASave()
    {
        _sample.SetMessage("before the save");
        using HostProcess host = StartWatch();
        host.WaitForStdout("message: before the save", "the first build's message (watch builds before it loads)");

        _sample.SetMessage("after the save");
        host.WaitForStdout("message: after the save");
        host.WaitForStderr(l => StatusLine().IsMatch(l), "the status line 'rebuilt in X s, reloaded in Y ms, generation N'");
        Assert.That(host.Stderr, Has.Some.StartsWith(WatchPrefix + "["), "cmake's output is shown, prefixed");
    }

    [Test]
    public void Watch_KeepsTheOldMessage_AndShowsTheCompilerError_WhenTheBuildFails()
    {
        _sample.SetMessage("good");
        using HostProcess host = StartWatch();
        host.WaitForStdout("message: good");

        File.WriteAllText(_sample.SourcePath, File.ReadAllText(_sample.SourcePath) + "\nthis is not C;\n");
        host.WaitForStderr(l => BuildFailedLine().IsMatch(l), "'build failed (exit N); still running generation 1'");
        Assert.That(host.Stderr.Any(l => l.StartsWith(WatchPrefix, StringComparison.Ordinal) && l.Contains("error", StringComparison.OrdinalIgnoreCase)), Is.True,
            "the compiler's error is shown with the build prefix");
        int before = host.Stdout.Count;
        Eventually.That(() => host.Stdout.Count >= before + 3, "ticks after the failed build");
        Assert.That(host.Stdout.Skip(before), Is.All.EqualTo("message: good"));

        File.WriteAllText(_sample.SourcePath, File.ReadAllText(_sample.SourcePath).Replace("\nthis is not C;\n", "", StringComparison.Ordinal));
        _sample.SetMessage("repaired");
        host.WaitForStdout("message: repaired");
    }

    [Test]
    public void Watch_ThreeSavesDuringOneBuild_QueueExactlyOneMoreBuild()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("uses a POSIX shell 'sleep' to make the build slow");
        }

        _sample.SetMessage("start");
        using HostProcess host = StartWatch($"sleep 1 && cmake --build \"{_sample.BuildDir}\"");
        host.WaitForStdout("message: start");
        Assert.That(BuildsStarted(host), Is.EqualTo(1), "the initial build");

        _sample.SetMessage("save 1");
        Eventually.That(() => BuildsStarted(host) == 2, "the build for save 1 to start");
        _sample.SetMessage("save 2"); // three saves while that build sleeps
        _sample.SetMessage("save 3");
        _sample.SetMessage("save 4");

        host.WaitForStdout("message: save 4", "the queued build's result");
        Thread.Sleep(2500); // longer than one more build would take to start: there must be none
        Assert.That(BuildsStarted(host), Is.EqualTo(3), string.Join("\n", host.Stderr));
    }

    [Test]
    public void Watch_RebuildsTheRustSample_WithCargoOffline()
    {
        if (!CargoExists())
        {
            Assert.Ignore("cargo is not installed: the Rust sample cannot be built here");
        }

        string crate = Directory.CreateTempSubdirectory("nativereload-rust-").FullName;
        try
        {
            string origin = Path.Combine(TestPaths.RepoRoot, "native", "rust-greeter");
            foreach (string file in new[] { "Cargo.toml", "Cargo.lock", Path.Combine("src", "lib.rs") })
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(crate, file))!);
                File.Copy(Path.Combine(origin, file), Path.Combine(crate, file));
            }

            string source = Path.Combine(crate, "src", "lib.rs");
            string library = Path.Combine(crate, "target", "release", NativeReload.Loading.LibraryNaming.FileName("rust_greeter"));
            using var host = new HostProcess(["watch", library, "--build", "cargo build --offline --release", "--source", crate, "--every", "100ms"],
                workingDirectory: crate);
            host.WaitForStdout("message: Hello from Rust!", "the first cargo build's message");

            File.WriteAllText(source, File.ReadAllText(source).Replace("\"Hello from Rust!\"", "\"Hello from edited Rust!\"", StringComparison.Ordinal));
            host.WaitForStdout("message: Hello from edited Rust!", "the rebuilt crate's message");
            Assert.That(host.Stderr.Count(l => l.StartsWith("build: ", StringComparison.Ordinal)), Is.EqualTo(2), string.Join("\n", host.Stderr));
        }
        finally
        {
            Directory.Delete(crate, recursive: true);
        }
    }

    private static bool CargoExists() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Any(dir => File.Exists(Path.Combine(dir, OperatingSystem.IsWindows() ? "cargo.exe" : "cargo")));

    private const string WatchPrefix = "build| ";

    private static int BuildsStarted(HostProcess host) => host.Stderr.Count(l => l.StartsWith("build: ", StringComparison.Ordinal));

    [GeneratedRegex(@"^rebuilt in \d+\.\d\d s, reloaded in \d+ ms, generation \d+$")]
    private static partial Regex StatusLine();

    [GeneratedRegex(@"^build failed \(exit \d+\); still running generation 1$")]
    private static partial Regex BuildFailedLine();
}
