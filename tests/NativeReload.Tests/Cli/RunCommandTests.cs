using System.Text.RegularExpressions;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Cli;

/// <summary>The public contract of <c>nativereload run</c>, checked on the published host.</summary>
[TestFixture]
[NonParallelizable]
public sealed partial class RunCommandTests
{
    private LibraryDirectory _dir = null!;
    private string _shadowRoot = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = new LibraryDirectory();
        _shadowRoot = Directory.CreateTempSubdirectory("nativereload-shadowroot-").FullName;
    }

    [TearDown]
    public void TearDown()
    {
        _dir.Dispose();
        Directory.Delete(_shadowRoot, recursive: true);
    }

    [Test]
    public void Run_PrintsOneMessageLinePerTick_AndExitsZero_AfterCount()
    {
        _dir.ReplaceByRename("greeter_v1");
        using var host = new HostProcess(["run", _dir.LibraryPath, "--every", "20ms", "--count", "3"], _shadowRoot);

        Assert.That(host.WaitForExit(), Is.EqualTo(0));
        Assert.That(host.Stdout, Is.EqualTo(new[] { "message: Hello from v1", "message: Hello from v1", "message: Hello from v1" }));
        Assert.That(host.Stderr, Is.Empty);
        Assert.That(Directory.GetDirectories(_shadowRoot), Is.Empty, "shadow copies removed at exit");
    }

    [Test]
    public void Run_CallsTheExportNamedByCall()
    {
        _dir.ReplaceByRename("greeter_v2");
        using var host = new HostProcess(["run", _dir.LibraryPath, "--call", "get_message", "--count", "1"], _shadowRoot);
        Assert.That(host.WaitForExit(), Is.EqualTo(0));
        Assert.That(host.Stdout, Is.EqualTo(new[] { "message: Hello from v2" }));
    }

    [Test]
    public void Run_ExitsOne_WithOneErrorLine_WhenTheFileIsMissing()
    {
        using var host = new HostProcess(["run", _dir.LibraryPath], _shadowRoot);
        Assert.That(host.WaitForExit(), Is.EqualTo(1));
        Assert.That(host.Stderr, Is.EqualTo(new[] { $"error: {_dir.LibraryPath}: file not found" }));
        Assert.That(host.Stdout, Is.Empty);
    }

    [Test]
    public void Run_ExitsOne_WhenTheExportIsMissing()
    {
        _dir.ReplaceByRename("greeter_v1");
        using var host = new HostProcess(["run", _dir.LibraryPath, "--call", "no_such_export"], _shadowRoot);
        Assert.That(host.WaitForExit(), Is.EqualTo(1));
        Assert.That(host.Stderr, Is.EqualTo(new[] { $"error: {_dir.LibraryPath}: missing export no_such_export" }));
    }

    [Test]
    public void Run_ExitsOne_WhenTheFileIsNotALibrary()
    {
        File.WriteAllText(_dir.LibraryPath, "<html>not a library</html>");
        using var host = new HostProcess(["run", _dir.LibraryPath], _shadowRoot);
        Assert.That(host.WaitForExit(), Is.EqualTo(1));
        Assert.That(host.Stderr.Single(), Does.StartWith($"error: {_dir.LibraryPath}: not a shared library"));
    }

    private static readonly TestCaseData[] BadArguments =
    [
        new TestCaseData((object)Array.Empty<string>()).SetName("Run_ExitsTwo_WithUsage_WhenNoCommandIsGiven"),
        new TestCaseData((object)new[] { "run" }).SetName("Run_ExitsTwo_WithUsage_WhenTheLibraryIsMissing"),
        new TestCaseData((object)new[] { "run", "x.so", "--every", "5x" }).SetName("Run_ExitsTwo_WithUsage_WhenTheIntervalIsInvalid"),
        new TestCaseData((object)new[] { "run", "x.so", "--count", "0" }).SetName("Run_ExitsTwo_WithUsage_WhenTheCountIsNotPositive"),
        new TestCaseData((object)new[] { "run", "x.so", "--bogus" }).SetName("Run_ExitsTwo_WithUsage_OnAnUnknownOption"),
    ];

    [TestCaseSource(nameof(BadArguments))]
    public void Run_ExitsTwo_WithUsage_OnBadArguments(string[] arguments)
    {
        using var host = new HostProcess(arguments, _shadowRoot);
        Assert.That(host.WaitForExit(), Is.EqualTo(2));
        Assert.That(host.Stderr, Has.Some.StartsWith("usage: nativereload run <library>"));
        Assert.That(host.Stdout, Is.Empty);
    }

    [Test]
    public void Run_ReportsReloadsAndFailures_OnStderr_AndKeepsServing_ThenExitsZeroOnSigterm()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("SIGTERM is a Unix signal");
        }

        _dir.ReplaceByRename("greeter_v1");
        using var host = new HostProcess(["run", _dir.LibraryPath, "--every", "20ms"], _shadowRoot);
        host.WaitForStdout("message: Hello from v1");

        _dir.ReplaceByRename("greeter_v2");
        host.WaitForStdout("message: Hello from v2");
        host.WaitForStderr(l => ReloadedLine().IsMatch(l) && l.Contains("(generation 2,", StringComparison.Ordinal), "the reloaded line");

        _dir.ReplaceByRename("greeter_nomsg");
        string failure = $"reload failed: {_dir.LibraryPath}: missing export get_message; still running generation 2";
        host.WaitForStderr(l => l == failure, "the reload failed line");
        int before = host.Stdout.Count;
        Eventually.That(() => host.Stdout.Count >= before + 3, "more ticks after the failure");
        Assert.That(host.Stdout.Skip(before), Is.All.EqualTo("message: Hello from v2"), "the old generation keeps serving");

        Assert.That(Directory.GetDirectories(_shadowRoot), Has.Length.EqualTo(1), "the host's shadow directory exists while it runs");
        host.Terminate();
        Assert.That(host.WaitForExit(), Is.EqualTo(0));
        Assert.That(Directory.GetDirectories(_shadowRoot), Is.Empty, "SIGTERM removes the shadow copies");
        Assert.That(host.Stderr.Count(l => l.StartsWith("reload failed:", StringComparison.Ordinal)), Is.EqualTo(1), "each failure is said once");
    }

    private static readonly TestCaseData[] WrongSignatures =
    [
        new TestCaseData("get_small_int", "it returned 0x55, which is not an address").SetName("Run_ExitsOne_WithOneErrorLine_WhenTheExportReturnsAnInteger"),
        new TestCaseData("get_null", "it returned NULL").SetName("Run_ExitsOne_WithOneErrorLine_WhenTheExportReturnsNull"),
        new TestCaseData("get_unmapped", "which points to no readable memory").SetName("Run_ExitsOne_WithOneErrorLine_WhenTheExportReturnsAnUnmappedAddress"),
        new TestCaseData("get_invalid_utf8", "not valid UTF-8 (byte 0xFF at offset 4)").SetName("Run_ExitsOne_WithOneErrorLine_WhenTheStringIsNotUtf8"),
        new TestCaseData("get_unterminated", "no terminating NUL in the first 1 MiB").SetName("Run_ExitsOne_WithOneErrorLine_WhenTheStringHasNoNulWithinOneMiB"),
    ];

    [TestCaseSource(nameof(WrongSignatures))]
    public void Run_ExitsOne_WithOneErrorLine_WhenTheExportDoesNotReturnAString(string export, string why)
    {
        if (!TestPaths.HasFixtureGroup("wrong_signature"))
        {
            Assert.Ignore("the wrong_signature fixture is not built on this platform (it needs mmap)");
        }

        _dir.ReplaceByRename("wrong_signature");
        using var host = new HostProcess(["run", _dir.LibraryPath, "--call", export, "--every", "20ms", "--count", "3"], _shadowRoot);

        Assert.That(host.WaitForExit(), Is.EqualTo(1), string.Join(" | ", host.Stderr));
        Assert.That(host.Stderr, Has.Count.EqualTo(1), "one line, no stack trace");
        Assert.That(host.Stderr.Single(), Does.StartWith($"error: {_dir.LibraryPath}: {export} did not return a readable string (").And.Contain(why).And.EndWith(")"));
        Assert.That(host.Stdout, Is.Empty);
    }

    [Test]
    public void Watch_ExitsOne_WithOneErrorLine_WhenTheExportReturnsAnInteger()
    {
        if (!TestPaths.HasFixtureGroup("wrong_signature"))
        {
            Assert.Ignore("the wrong_signature fixture is not built on this platform (it needs mmap)");
        }

        _dir.ReplaceByRename("wrong_signature");
        string source = Directory.CreateTempSubdirectory("nativereload-src-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(source, "lib.c"), "int x;\n");
            using var host = new HostProcess(["watch", _dir.LibraryPath, "--build", "true", "--source", source,
                "--call", "get_small_int", "--every", "20ms", "--count", "3"], _shadowRoot);
            Assert.That(host.WaitForExit(), Is.EqualTo(1), string.Join(" | ", host.Stderr));
            Assert.That(host.Stderr.Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToArray(), Has.Length.EqualTo(1));
            Assert.That(host.Stderr.Single(l => l.StartsWith("error:", StringComparison.Ordinal)), Does.Contain("get_small_int did not return a readable string"));
        }
        finally
        {
            Directory.Delete(source, recursive: true);
        }
    }

    [Test]
    public void Run_PrintsTheString_FromTheSameFixture_WhenTheExportReturnsOne()
    {
        if (!TestPaths.HasFixtureGroup("wrong_signature"))
        {
            Assert.Ignore("the wrong_signature fixture is not built on this platform (it needs mmap)");
        }

        _dir.ReplaceByRename("wrong_signature");
        using var host = new HostProcess(["run", _dir.LibraryPath, "--call", "get_message", "--every", "20ms", "--count", "2"], _shadowRoot);
        Assert.That(host.WaitForExit(), Is.EqualTo(0));
        Assert.That(host.Stdout, Is.EqualTo(new[] { "message: a readable string", "message: a readable string" }));
    }

    [Test]
    public void Run_ExitsOne_WithOneErrorLine_WhenZlibCompileFlagsIsCalledAsAString()
    {
        string? zlib = new[] { "/usr/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/aarch64-linux-gnu/libz.so.1", "/lib64/libz.so.1", "/usr/lib/libz.so.1", "/usr/lib/libz.dylib" }
            .FirstOrDefault(File.Exists);
        if (zlib is null)
        {
            Assert.Ignore("no system zlib found (libz.so.1 / libz.dylib)");
        }

        using var host = new HostProcess(["run", zlib, "--call", "zlibCompileFlags", "--count", "1"], _shadowRoot);
        Assert.That(host.WaitForExit(), Is.EqualTo(1), string.Join(" | ", host.Stderr));
        string[] errors = host.Stderr.Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToArray();
        Assert.That(errors, Has.Length.EqualTo(1));
        Assert.That(errors[0], Does.StartWith($"error: {zlib}: zlibCompileFlags did not return a readable string (it returned 0x"));
        Assert.That(host.Stderr, Has.None.Contains("Exception"), "no stack trace");
        Assert.That(host.Stdout, Is.Empty);
    }

    [Test]
    public void Run_WarnsOncePerGeneration_NamingTheDemangledSymbols_WhenTheLibraryHasGnuUniqueSymbols()
    {
        if (!TestPaths.HasFixtureGroup("unique_cpp"))
        {
            Assert.Ignore("the unique_cpp fixtures are built by g++ on ELF only");
        }

        _dir.ReplaceByRename("unique_cpp_v1");
        using var host = new HostProcess(["run", _dir.LibraryPath, "--every", "20ms"], _shadowRoot);
        host.WaitForStdout("message: unique v1");
        _dir.ReplaceByRename("unique_cpp_v2");
        host.WaitForStderr(l => l.StartsWith("reloaded ", StringComparison.Ordinal), "the reloaded line");
        host.WaitForStderr(l => l.StartsWith($"warning: {_dir.LibraryPath}: generation 2 ", StringComparison.Ordinal), "the warning for generation 2");
        int ticks = host.Stdout.Count;
        Eventually.That(() => host.Stdout.Count >= ticks + 3, "more ticks after the reload");
        host.Terminate();
        Assert.That(host.WaitForExit(), Is.EqualTo(0));

        string[] warnings = host.Stderr.Where(l => l.StartsWith("warning:", StringComparison.Ordinal)).ToArray();
        Assert.That(warnings, Has.Length.EqualTo(2), "one per generation: " + string.Join(" | ", host.Stderr));
        for (int generation = 1; generation <= 2; generation++)
        {
            Assert.That(warnings[generation - 1], Does.StartWith($"warning: {_dir.LibraryPath}: generation {generation} has 2 STB_GNU_UNIQUE symbols ("
                + "nativereload_fixture::holder()::instance, guard variable for nativereload_fixture::holder()::instance): "));
            Assert.That(warnings[generation - 1], Does.Contain("the new code runs on the old objects").And.Contain("-fno-gnu-unique").And.Contain("non-inline"));
        }

        Assert.That(host.Stdout.Last(), Is.EqualTo("message: unique v1"), "what the warning says: generation 2's code reads generation 1's object");
    }

    [Test]
    public void Run_PrintsNoWarning_AndTheNewMessage_WhenTheSameCxxSourceIsBuiltWithTheCMakeHelpers()
    {
        if (!TestPaths.HasFixtureGroup("unique_cpp_fixed"))
        {
            Assert.Ignore("the unique_cpp_fixed fixtures are built by g++ on ELF only");
        }

        _dir.ReplaceByRename("unique_cpp_fixed_v1");
        using var host = new HostProcess(["run", _dir.LibraryPath, "--every", "20ms"], _shadowRoot);
        host.WaitForStdout("message: unique v1");
        _dir.ReplaceByRename("unique_cpp_fixed_v2");
        host.WaitForStdout("message: unique v2", "-fno-gnu-unique: a new object with the new code");
        host.Terminate();
        Assert.That(host.WaitForExit(), Is.EqualTo(0));
        Assert.That(host.Stderr.Where(l => l.StartsWith("warning:", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    [Platform("Linux")]
    public void Run_RefusesTheCRuntime_WithOneErrorLine_AndExitsOne()
    {
        string libc = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 6).Select(f => f[5]).First(p => Path.GetFileName(p).StartsWith("libc.so", StringComparison.Ordinal));

        using var host = new HostProcess(["run", libc, "--call", "gnu_get_libc_version", "--count", "1"], _shadowRoot);

        Assert.That(host.WaitForExit(), Is.EqualTo(1));
        Assert.That(host.Stderr, Is.EqualTo(new[]
        {
            $"error: {libc}: {Path.GetFileName(libc)} is the C runtime, which this process already runs on; a second copy would have its own heap, locks and thread state and corrupt the process, so it is never loaded",
        }));
        Assert.That(host.Stdout, Is.Empty);
    }

    [Test]
    [Platform("Linux")]
    public void Run_RefusesTheDynamicLoader_WithOneErrorLine_AndExitsOne()
    {
        string loader = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 6).Select(f => f[5]).First(p => Path.GetFileName(p).StartsWith("ld-", StringComparison.Ordinal));

        using var host = new HostProcess(["run", loader, "--count", "1"], _shadowRoot);

        Assert.That(host.WaitForExit(), Is.EqualTo(1));
        Assert.That(host.Stderr.Single(), Does.StartWith($"error: {loader}: {Path.GetFileName(loader)} is the dynamic loader, which this process already runs on"));
    }

    [Test]
    [Platform("Linux")]
    public void Run_WarnsThatTheLibraryIsAlreadyLoaded_WhenTheProcessHasItAlready()
    {
        if (!TestPaths.HasFixtureGroup("wrong_signature"))
        {
            Assert.Ignore("the wrong_signature fixture is not built on this platform");
        }

        // LD_PRELOAD puts the very file into the host process before `run` loads it.
        string fixture = TestPaths.Fixture("wrong_signature");
        using var host = new HostProcess(["run", fixture, "--count", "1"], _shadowRoot, environment: new() { ["LD_PRELOAD"] = fixture });

        Assert.That(host.WaitForExit(), Is.EqualTo(0), string.Join(" | ", host.Stderr));
        Assert.That(host.Stdout, Is.EqualTo(new[] { "message: a readable string" }));
        Assert.That(host.Stderr, Is.EqualTo(new[]
        {
            $"warning: {fixture}: generation 1 is already loaded by this process as {fixture} (the same file); this generation is a second, separate copy: "
                + "its globals are not the first copy's, and libraries linked against that one keep using it",
        }));
    }

    [GeneratedRegex(@"^reloaded .+ \(generation \d+, \d+(\.\d+)? ms\)$")]
    private static partial Regex ReloadedLine();
}
