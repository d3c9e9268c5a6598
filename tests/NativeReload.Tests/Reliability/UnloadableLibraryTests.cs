using NativeReload.Reloading;
using NativeReload.Tests.Support;
using static NativeReload.Tests.Reliability.ReliabilitySupport;

namespace NativeReload.Tests.Reliability;

/// <summary>
/// Libraries glibc will not unmap after dlclose: reloading through the same path must still run the new code
/// (the shadow copies make that work), and the retirement says the old copy stayed mapped.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class UnloadableLibraryTests
{
    private LibraryDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new LibraryDirectory();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    // tls_cpp and rust stay mapped only if the thread that called them is alive at dlclose: here that is the test's
    // own thread, which calls, reloads (and so frees) and is still alive.
    [TestCase("greeter", "Hello from v1", "Hello from v2", true)]
    [TestCase("tls_cpp", "tls v1", "tls v2", false)]
    [TestCase("rust", "rust v1", "rust v2", false)]
    // STB_GNU_UNIQUE: glibc binds every later copy's unique object to the first one loaded (the unique-symbol table
    // ignores RTLD_LOCAL), so generation 2's new code (version 2) reads generation 1's object, still "unique v1".
    [TestCase("unique_cpp", "unique v1", "unique v1", false)]
    [TestCase("nodelete", "nodelete v1", "nodelete v2", false)]
    public void ReloadThroughTheSamePath_RunsTheNewCode_AndReportsWhetherTheOldCopyWasUnmapped(string group, string first, string second, bool unmapped)
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("only Linux tells whether a file is still mapped, and only Linux was measured");
        }

        if (!TestPaths.HasFixtureGroup(group))
        {
            Assert.Ignore($"fixture group '{group}' was not built (see build/fixtures/fixtures.txt){(group == "rust" ? ": cargo was not found" : string.Empty)}");
        }

        string prefix = group == "rust" ? "rust_greeter" : group;
        _dir.ReplaceByRename($"{prefix}_v1");
        using var library = new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, GreeterExports.Bind, Options(watch: false));
        var recorder = new LibraryRecorder<GreeterExports>(library);
        Assert.That(Message(library), Is.EqualTo(first));
        string oldCopy = library.Current.ShadowPath;

        _dir.ReplaceByRename($"{prefix}_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(Version(library), Is.EqualTo(2), "the new code runs although the old copy may still be mapped");
        Assert.That(Message(library), Is.EqualTo(second));

        GenerationRetiredEventArgs retired = recorder.Retired.Single();
        int leftMappings = Mappings(oldCopy);
        TestContext.Out.WriteLine($"{group}: generation 1 retired, Unmapped = {retired.Unmapped}, {leftMappings} mappings of its copy left");
        Assert.Multiple(() =>
        {
            Assert.That(retired.Generation, Is.EqualTo(1));
            Assert.That(retired.Unmapped, Is.EqualTo(unmapped));
            Assert.That(leftMappings > 0, Is.EqualTo(!unmapped), "/proc/self/maps agrees");
            Assert.That(File.Exists(oldCopy), Is.False, "the copy is deleted from disk either way");
            Assert.That(CountCopies(library.ShadowDirectory), Is.EqualTo(1));
        });

        // And back again: v1 runs, not a cached v1 or v2.
        _dir.ReplaceByRename($"{prefix}_v1");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(Version(library), Is.EqualTo(1));
        Assert.That(Message(library), Is.EqualTo(first));
    }
}
