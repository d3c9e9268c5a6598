using NativeReload.Building;

namespace NativeReload.Tests.Building;

[TestFixture]
public sealed class SourceChangeFilterTests
{
    private static readonly string Root = Path.Combine(Path.GetTempPath(), "src-root");
    private readonly SourceChangeFilter _filter = new(Root, [Path.Combine(Root, "out-lib")]);

    [TestCase("greeter.c")]
    [TestCase("include/greeter.h")]
    [TestCase("src/lib.rs")]
    [TestCase("CMakeLists.txt")]
    [TestCase("Cargo.toml")]
    public void IsRelevant_True_ForSourceFiles(string relative) =>
        Assert.That(_filter.IsRelevant(Path.Combine(Root, relative)), Is.True);

    [TestCase("greeter.c~", TestName = "IsRelevant_False_ForEmacsBackup")]
    [TestCase(".greeter.c.swp", TestName = "IsRelevant_False_ForVimSwap")]
    [TestCase("4913", TestName = "IsRelevant_False_ForVimProbe")]
    [TestCase(".#greeter.c", TestName = "IsRelevant_False_ForEmacsLock")]
    [TestCase("#greeter.c#", TestName = "IsRelevant_False_ForEmacsAutosave")]
    [TestCase("greeter.c___jb_tmp___", TestName = "IsRelevant_False_ForJetBrainsTemp")]
    [TestCase("build/CMakeFiles/x.c.o", TestName = "IsRelevant_False_InsideBuildDirectory")]
    [TestCase("target/debug/libx.so", TestName = "IsRelevant_False_InsideCargoTarget")]
    [TestCase(".git/index", TestName = "IsRelevant_False_InsideGit")]
    [TestCase("targetxT0K2P", TestName = "IsRelevant_False_ForCargosTemporaryTargetDirectory")]
    [TestCase("out-lib/libgreeter.so", TestName = "IsRelevant_False_InsideTheLibraryOutputDirectory")]
    [TestCase("greeter.o", TestName = "IsRelevant_False_ForObjectFiles")]
    [TestCase("CMakeCache.txt", TestName = "IsRelevant_False_ForCMakeCache")]
    public void IsRelevant_False_ForNoise(string relative) =>
        Assert.That(_filter.IsRelevant(Path.Combine(Root, relative)), Is.False);

    [Test]
    public void IsRelevant_False_OutsideTheRoot() =>
        Assert.That(_filter.IsRelevant(Path.Combine(Path.GetTempPath(), "elsewhere.c")), Is.False);

    [Test]
    public void IsRelevant_False_ForADirectoryItself()
    {
        DirectoryInfo dir = Directory.CreateTempSubdirectory("nativereload-filter-");
        try
        {
            var filter = new SourceChangeFilter(dir.Parent!.FullName);
            Assert.That(filter.IsRelevant(dir.FullName), Is.False);
            Assert.That(filter.IsRelevant(Path.Combine(dir.FullName, "a.c")), Is.True);
        }
        finally
        {
            dir.Delete();
        }
    }
}
