using System.Runtime.InteropServices;
using NativeReload.Loading;

namespace NativeReload.Tests.Loading;

/// <summary>Library file names per platform, checked on any platform.</summary>
[TestFixture]
public sealed class LibraryNamingTests
{
    private static readonly OSPlatform[] Platforms = [OSPlatform.Linux, OSPlatform.OSX, OSPlatform.Windows, OSPlatform.FreeBSD];

    [TestCase("Linux", "libgreeter.so")]
    [TestCase("OSX", "libgreeter.dylib")]
    [TestCase("Windows", "greeter.dll")]
    [TestCase("FreeBSD", "libgreeter.so")]
    public void FileName_FollowsThePlatformsConvention(string platform, string expected) =>
        Assert.That(LibraryNaming.FileName("greeter", OSPlatform.Create(platform)), Is.EqualTo(expected)); // OSPlatform names compare case-insensitively

    [TestCase("Linux", "libgreeter.so", true)]
    [TestCase("Linux", "libgreeter.so.1", true)]
    [TestCase("Linux", "greeter", false)]
    [TestCase("Linux", "greeter.dll", false)]
    [TestCase("OSX", "libgreeter.dylib", true)]
    [TestCase("OSX", "greeter", false)]
    [TestCase("Windows", "greeter.dll", true)]
    [TestCase("Windows", "GREETER.DLL", true)]
    [TestCase("Windows", "greeter", false)]
    [TestCase("Windows", "libgreeter.so", false)]
    [TestCase("Windows", @"build\lib\greeter", true)]
    [TestCase("Linux", "build/lib/greeter", true)]
    public void LooksLikePath_TellsFileNamesFromBareNames(string platform, string text, bool expected) =>
        Assert.That(LibraryNaming.LooksLikePath(text, OSPlatform.Create(platform)), Is.EqualTo(expected));

    [Test]
    public void Resolve_TurnsABareNameIntoThisPlatformsFileName_InTheGivenDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "libs");
        Assert.That(LibraryNaming.Resolve("greeter", dir), Is.EqualTo(Path.Combine(dir, LibraryNaming.FileName("greeter"))));
        Assert.That(LibraryNaming.Resolve("build/lib/libgreeter.so", dir), Is.EqualTo("build/lib/libgreeter.so"), "a path is kept");
    }

    [Test]
    public void FileName_RejectsAnEmptyName() =>
        Assert.Throws<ArgumentException>(() => LibraryNaming.FileName(string.Empty, OSPlatform.Linux));

    [Test]
    public void CurrentPlatform_IsThePlatformThisProcessRunsOn() =>
        Assert.That(RuntimeInformation.IsOSPlatform(LibraryNaming.CurrentPlatform), Is.True, $"{LibraryNaming.CurrentPlatform} is not this OS");
}
