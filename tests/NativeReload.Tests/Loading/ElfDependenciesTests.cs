using NativeReload.Loading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Loading;

/// <summary>DT_NEEDED and DT_RUNPATH read from an ELF image's bytes (the input of the dependency pre-loading).</summary>
[TestFixture]
public sealed class ElfDependenciesTests
{
    [Test]
    [Platform(Include = "Linux", Reason = "reads the ELF build of the deps fixtures")]
    public void Read_FindsNeededNamesAndTheOriginRunpath_OfTheDepsFixture()
    {
        if (!TestPaths.HasFixtureGroup("deps"))
        {
            Assert.Ignore("the deps fixtures were not built (build/fixtures/fixtures.txt has no 'deps' line)");
        }

        byte[] image = File.ReadAllBytes(Path.Combine(TestPaths.FixturesDir, "deps", "libdepmain_v1.so"));
        NativeDependencies dependencies = ElfDependencies.Read(image);
        Assert.That(dependencies.Needed, Does.Contain("libnrdep.so"));
        Assert.That(dependencies.SearchFolders, Is.EqualTo(new[] { "$ORIGIN" }));
    }

    [Test]
    public void Read_OfALibraryWithoutRunpath_HasNoFolders()
    {
        NativeDependencies dependencies = ElfDependencies.Read(File.ReadAllBytes(TestPaths.Fixture("greeter_v1")));
        if (!OperatingSystem.IsLinux())
        {
            Assert.That(dependencies, Is.SameAs(NativeDependencies.None), "not an ELF image");
            return;
        }

        Assert.That(dependencies.SearchFolders, Is.Empty);
    }

    [TestCase(0)]
    [TestCase(64)]
    [TestCase(5000)]
    public void Read_OfTruncatedOrGarbageBytes_ReturnsNothing_WithoutThrowing(int length)
    {
        var random = new Random(length);
        byte[] image = new byte[length];
        random.NextBytes(image);
        if (length >= 6)
        {
            image[0] = 0x7F;
            image[1] = (byte)'E';
            image[2] = (byte)'L';
            image[3] = (byte)'F';
            image[4] = 2;
            image[5] = 1;
        }

        Assert.That(ElfDependencies.Read(image).Needed, Is.Empty);
    }
}
