using NativeReload.Building;

namespace NativeReload.Tests.Building;

/// <summary>A build's own writes into the sources are told from saves made while it runs (no rebuild loop, no lost save).</summary>
[TestFixture]
public sealed class BuildWritesTests
{
    private string _root = null!;

    [SetUp]
    public void SetUp() => _root = Directory.CreateTempSubdirectory("nativereload-writes-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_root, recursive: true);

    private string Write(string name, string content)
    {
        string path = Path.Combine(_root, name);
        File.WriteAllText(path, content);
        return path;
    }

    [Test]
    public void ASaveOfAnExistingSourceDuringABuild_IsASave()
    {
        string source = Write("greet.c", "v1");
        var writes = new BuildWrites([source]);
        writes.BuildStarting();
        Write("greet.c", "v2");
        writes.ChangedDuringBuild(source);
        Assert.That(writes.BuildEnded(), Is.EqualTo(new[] { (source, (string?)null) }));
    }

    [Test]
    public void AFileCreatedByTheBuild_IsItsOwn_ThenAndInLaterBuilds_UntilChangedWhileIdle()
    {
        string source = Write("greet.c", "v1");
        var writes = new BuildWrites([source]);
        string generated = Path.Combine(_root, "generated.h");

        writes.BuildStarting();
        Write("generated.h", "stamp 1");
        writes.ChangedDuringBuild(generated);
        Assert.That(writes.BuildEnded().Single().BuildsOwn, Is.EqualTo("created by the build"));

        writes.BuildStarting();
        Write("generated.h", "stamp 2");
        writes.ChangedDuringBuild(generated);
        Assert.That(writes.BuildEnded().Single().BuildsOwn, Does.StartWith("written by every build"));

        writes.ChangedWhileIdle(generated); // the user edits it by hand: it is theirs again
        writes.BuildStarting();
        Write("generated.h", "edited during a build");
        writes.ChangedDuringBuild(generated);
        Assert.That(writes.BuildEnded().Single().BuildsOwn, Is.Null);
    }

    [Test]
    public void ARewriteWithTheSameContent_IsTheBuildsOwn()
    {
        string header = Write("config.h", "#define X 1\n");
        var writes = new BuildWrites([header]);
        writes.BuildStarting();
        Write("config.h", "#define X 1\n");
        writes.ChangedDuringBuild(header);
        Assert.That(writes.BuildEnded().Single().BuildsOwn, Is.EqualTo("rewritten by the build with the same content"));
    }

    [Test]
    public void AnExistingFileRewrittenDifferentlyByEveryBuild_StartsOneBuild_ThenIsKnownAsTheBuildsOwn()
    {
        string stamp = Write("stamp.h", "old");
        var writes = new BuildWrites([stamp]);
        writes.BuildStarting();
        Write("stamp.h", "1");
        writes.ChangedDuringBuild(stamp);
        Assert.That(writes.BuildEnded().Single().BuildsOwn, Is.Null, "the first time it cannot be told from a save");

        writes.BuildStarting();
        Write("stamp.h", "2");
        writes.ChangedDuringBuild(stamp);
        Assert.That(writes.BuildEnded().Single().BuildsOwn, Does.StartWith("rewritten by every build"));
    }

    [Test]
    public void Differing_FindsChangedNewAndDeletedFiles_AfterLostEvents()
    {
        string same = Write("same.c", "1");
        string edited = Write("edited.c", "1");
        string deleted = Write("deleted.c", "1");
        var writes = new BuildWrites([same, edited, deleted]);
        Write("edited.c", "2");
        string added = Write("added.c", "1");
        File.Delete(deleted);
        Assert.That(writes.Differing([same, edited, added]), Is.EquivalentTo(new[] { edited, added, deleted }));
    }
}
