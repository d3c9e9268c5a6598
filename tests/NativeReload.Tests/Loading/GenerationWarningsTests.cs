using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using NativeReload.Reloading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Loading;

/// <summary>
/// A generation that loads but will not behave like a fresh private copy says so (issue 12): STB_GNU_UNIQUE symbols
/// and a library the process already has are warnings on the generation, logged once when it is loaded; the C runtime
/// and the dynamic loader are refused.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class GenerationWarningsTests
{
    private LibraryDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new LibraryDirectory();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    // unique_members, not unique_cpp: glibc pins the first copy that defines a unique symbol for the life of the
    // process, and Reliability/UnloadableLibraryTests needs its unique_cpp copy to be that first one.
    [Test]
    public void Load_ListsTheDemangledUniqueSymbols_AndLogsOneWarningPerGeneration()
    {
        RequireGroup("unique_members");
        var logger = new RecordingLogger();
        _dir.ReplaceByRename("unique_members_v1");
        using var library = new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, GreeterExports.Bind, Options(), logger);

        Assert.That(library.Current.UniqueSymbols, Is.EquivalentTo(new[]
        {
            "nativereload_unique::generation_count",
            "nativereload_unique::Registry<char>::name[abi:cxx11]",
            "nativereload_unique::Counter<long>::count",
            "guard variable for nativereload_unique::Registry<char>::name[abi:cxx11]",
        }));
        Assert.That(library.Current.Warnings, Has.Count.EqualTo(1));
        Assert.That(library.Current.Warnings[0], Does.StartWith("has 4 STB_GNU_UNIQUE symbols (").And.Contain("-fno-gnu-unique"));

        _dir.ReplaceByRename("unique_members_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(library.Current.Warnings, Has.Count.EqualTo(1), "generation 2 says it too");
        using (var scope = library.Enter())
        {
            Assert.That(scope.Exports.Version, Is.EqualTo(2), "the new code runs");
            Assert.That(scope.Exports.GetMessage(), Is.EqualTo("members v1"), "on the old object: what the warning says");
        }

        string[] warnings = logger.Entries.Where(e => e.Level == LogLevel.Warning).Select(e => e.Message).ToArray();
        Assert.That(warnings, Has.Length.EqualTo(2), "once per generation: " + string.Join(" | ", warnings));
        Assert.That(warnings[0], Does.StartWith($"{_dir.LibraryPath}: generation 1 has 4 STB_GNU_UNIQUE symbols"));
        Assert.That(warnings[1], Does.StartWith($"{_dir.LibraryPath}: generation 2 has 4 STB_GNU_UNIQUE symbols"));
    }

    [TestCase("greeter_v1")]
    [TestCase("unique_cpp_fixed_v1")]
    public void Load_HasNoWarnings_ForAnOrdinaryLibrary(string fixture)
    {
        if (fixture.StartsWith("unique", StringComparison.Ordinal))
        {
            RequireGroup("unique_cpp_fixed");
        }

        var logger = new RecordingLogger();
        _dir.ReplaceByRename(fixture);
        using var library = new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, GreeterExports.Bind, Options(), logger);

        Assert.That(library.Current.Warnings, Is.Empty);
        Assert.That(library.Current.UniqueSymbols, Is.Empty);
        Assert.That(logger.Entries.Where(e => e.Level >= LogLevel.Warning), Is.Empty);
    }

    [Test]
    [Platform("Linux")]
    public void Load_WarnsBeforeLoading_WhenTheSameFileIsAlreadyLoaded()
    {
        RequireGroup("wrong_signature");
        string fixture = TestPaths.Fixture("wrong_signature");
        var logger = new RecordingLogger();
        nint first = NativeLibrary.Load(fixture);
        try
        {
            using var library = new ReloadableLibrary<GreeterExports>(fixture, GreeterExports.Bind, Options(), logger);

            Assert.That(library.Current.Warnings.Single(), Does.StartWith($"is already loaded by this process as {fixture} (the same file); "));
            LogEntry entry = logger.Entries.Single(e => e.Level == LogLevel.Warning && e.EventId == 121);
            Assert.That(entry.Message, Is.EqualTo($"{fixture} is already loaded by this process as {fixture} (the same file); loading a second copy as generation 1"));
            Assert.That(logger.Entries.IndexOf(entry), Is.LessThan(logger.Entries.FindIndex(e => e.Message.StartsWith("Loaded ", StringComparison.Ordinal))),
                "said before the second copy is loaded");
        }
        finally
        {
            NativeLibrary.Free(first);
        }
    }

    [Test]
    [Platform("Linux")]
    public void Load_Warns_WhenALibraryWithTheSameSonameIsAlreadyLoaded()
    {
        RequireGroup("wrong_signature");
        string fixture = TestPaths.Fixture("wrong_signature");
        _dir.ReplaceByRename("wrong_signature"); // another file (new inode), same DT_SONAME libwrong_signature.so
        nint first = NativeLibrary.Load(fixture);
        try
        {
            using var library = new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, GreeterExports.Bind, Options());

            Assert.That(library.Current.Warnings.Single(), Does.StartWith($"is already loaded by this process as {fixture} (the same soname libwrong_signature.so); "));
        }
        finally
        {
            NativeLibrary.Free(first);
        }
    }

    [Test]
    [Platform("Linux")]
    public void Load_DoesNotWarn_AboutTheProcesssOwnEarlierGenerations()
    {
        RequireGroup("unique_members");
        // The first unique_members copy stays mapped forever: the next library instance must not count it as "already loaded".
        _dir.ReplaceByRename("unique_members_v1");
        using (new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, GreeterExports.Bind, Options()))
        {
        }

        using var again = new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, GreeterExports.Bind, Options());
        Assert.That(again.Current.Warnings.Where(w => w.Contains("already loaded", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    [Platform("Linux")]
    public void Load_RefusesTheCRuntime_WithReasonCoreRuntime()
    {
        string libc = MappedFile(name => name.StartsWith("libc.so", StringComparison.Ordinal));

        var e = Assert.Throws<LibraryLoadException>(() => new ReloadableLibrary<GreeterExports>(libc, GreeterExports.Bind, Options()))!;

        Assert.That(e.Reason, Is.EqualTo(ReloadFailureReason.CoreRuntime));
        Assert.That(e.Message, Does.StartWith($"{libc}: {Path.GetFileName(libc)} is the C runtime, which this process already runs on"));
    }

    [Test]
    [Platform("Linux")]
    public void Load_RefusesACopyOfTheCRuntime_ByItsSoname()
    {
        string libc = MappedFile(name => name.StartsWith("libc.so", StringComparison.Ordinal));
        _dir.ReplaceByRename(File.ReadAllBytes(libc)); // named libtarget.so; DT_SONAME still libc.so.6

        var e = Assert.Throws<LibraryLoadException>(() => new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, GreeterExports.Bind, Options()))!;

        Assert.That(e.Reason, Is.EqualTo(ReloadFailureReason.CoreRuntime));
        Assert.That(e.Detail, Does.StartWith("libc.so.6 is the C runtime"));
    }

    [Test]
    [Platform("Linux")]
    public void Reload_KeepsTheOldGeneration_WhenTheFileBecomesTheDynamicLoader()
    {
        string loader = MappedFile(name => name.StartsWith("ld-", StringComparison.Ordinal));
        _dir.ReplaceByRename("greeter_v1");
        using var library = new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, GreeterExports.Bind, Options());

        _dir.ReplaceByRename(File.ReadAllBytes(loader));
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));
        Assert.That(library.LastFailure?.Reason, Is.EqualTo(ReloadFailureReason.CoreRuntime));
        Assert.That(library.LastFailure?.Detail, Does.Contain("is the dynamic loader"));
        Assert.That(library.Current.Number, Is.EqualTo(1));
    }

    private static ReloadableLibraryOptions Options() => new() { WatchForChanges = false };

    private static string MappedFile(Func<string, bool> name) =>
        File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 6).Select(f => f[5]).First(p => name(Path.GetFileName(p)));

    private static void RequireGroup(string group)
    {
        if (!TestPaths.HasFixtureGroup(group))
        {
            Assert.Ignore($"fixture group '{group}' was not built on this platform (see build/fixtures/fixtures.txt)");
        }
    }
}
