namespace NativeReload.Tests.Support;

/// <summary>
/// Base of the fixtures that work in a directory of their own: a fresh temporary root before each test (as
/// <see cref="Root"/>), removed with everything in it after; on a system the fixture cannot run on, every test is
/// ignored with the reason, before anything is created.
/// </summary>
/// <param name="prefix">Start of the root's name under the temporary directory (says which fixture left it).</param>
/// <param name="cannotRunBecause">Null where the fixture runs; otherwise why it cannot, shown as the skip reason.</param>
public abstract class TemporaryRootFixture(string prefix, string? cannotRunBecause)
{
    /// <summary>This test's own directory.</summary>
    protected string Root { get; private set; } = null!;

    [SetUp]
    public void CreateRoot()
    {
        if (cannotRunBecause is not null)
        {
            Assert.Ignore(cannotRunBecause);
        }

        Root = Directory.CreateTempSubdirectory(prefix).FullName;
    }

    [TearDown]
    public void DeleteRoot()
    {
        if (Root is not null && Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }
}
