using System.Runtime.InteropServices;
using NativeReload.Validation;
using NUnit.Framework;
using static NativeReload.Tests.Validation.SyntheticImages;

namespace NativeReload.Tests.Validation;

[TestFixture]
public sealed class UniversalCheckTests
{
    private static byte[] TwoSlices(bool fat64 = false) => Universal(fat64, MachO(CpuX8664), MachO(CpuArm64, cpuSubtype: 0));

    [TestCase(false, Architecture.X64)]
    [TestCase(false, Architecture.Arm64)]
    [TestCase(true, Architecture.X64)]
    [TestCase(true, Architecture.Arm64)]
    public void Check_ReportsOk_WhenUniversalBinaryHasCompleteSliceForArchitecture(bool fat64, Architecture architecture)
    {
        ImageCheckResult result = LibraryImageInspector.Check(TwoSlices(fat64), BinaryFormat.MachO, architecture);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Ok), result.Reason);
        Assert.That(result.Format, Is.EqualTo(BinaryFormat.MachOUniversal));
    }

    [Test]
    public void Check_AcceptsThinMachO_WhenUniversalIsExpected()
    {
        Assert.That(LibraryImageInspector.Check(MachO(), BinaryFormat.MachOUniversal, Architecture.X64).Verdict, Is.EqualTo(ImageVerdict.Ok));
    }

    [Test]
    public void Check_ReportsWrongArchitecture_ListingSlices_WhenNoSliceMatches()
    {
        byte[] image = Universal(false, MachO(CpuX8664));

        ImageCheckResult result = LibraryImageInspector.Check(image, BinaryFormat.MachO, Architecture.Arm64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.WrongArchitecture));
        Assert.That(result.Reason, Is.EqualTo("wrong architecture: universal binary with slices x86_64; this process is Arm64"));
    }

    [Test]
    public void Check_ListsEverySlice_WhenNoSliceMatches()
    {
        ImageCheckResult result = LibraryImageInspector.Check(TwoSlices(), BinaryFormat.MachO, Architecture.X86);

        Assert.That(result.Reason, Does.Contain("slices x86_64, arm64; this process is X86"));
    }

    [Test]
    public void Check_PrefersPlainArm64Slice_OverArm64E()
    {
        // The arm64e slice (listed first) is not a library; choosing it instead of the arm64 slice would fail.
        byte[] arm64e = MachO(CpuArm64, cpuSubtype: 2);
        MachOSetFileType(arm64e, MhExecute);
        byte[] image = Universal(false, arm64e, MachO(CpuArm64, cpuSubtype: 0));

        ImageCheckResult result = LibraryImageInspector.Check(image, BinaryFormat.MachO, Architecture.Arm64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Ok), result.Reason);
    }

    [Test]
    public void Check_ChecksTheSelectedSliceAsMachO()
    {
        byte[] arm64 = MachO(CpuArm64, cpuSubtype: 0);
        MachOSetFileType(arm64, MhExecute);
        byte[] image = Universal(false, MachO(CpuX8664), arm64);

        ImageCheckResult x64 = LibraryImageInspector.Check(image, BinaryFormat.MachO, Architecture.X64);
        ImageCheckResult arm = LibraryImageInspector.Check(image, BinaryFormat.MachO, Architecture.Arm64);

        Assert.That(x64.Verdict, Is.EqualTo(ImageVerdict.Ok));
        Assert.That(arm.Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
        Assert.That(arm.Format, Is.EqualTo(BinaryFormat.MachOUniversal));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenSliceExtendsBeyondEnd()
    {
        byte[] image = TwoSlices();

        ImageCheckResult result = LibraryImageInspector.Check(image.AsSpan(..^16), BinaryFormat.MachO, Architecture.X64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
        Assert.That(result.Reason, Does.Contain("arm64 slice"));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenFat64SliceOffsetOverflows()
    {
        byte[] image = TwoSlices(fat64: true);
        UniversalSetSlice(image, 1, 0xFFFFFFFFFFFFFFF0, 0x100);

        Assert.That(LibraryImageInspector.Check(image, BinaryFormat.MachO, Architecture.Arm64).Verdict, Is.EqualTo(ImageVerdict.Incomplete));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenSliceTableLiesBeyondEnd()
    {
        byte[] image = TwoSlices();
        UniversalSetCount(image, 30);

        ImageCheckResult result = LibraryImageInspector.Check(image.AsSpan(..100), BinaryFormat.MachO, Architecture.X64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenSegmentInsideSliceExtendsBeyondTheSlice()
    {
        byte[] x64 = MachO(CpuX8664);
        MachOSetSegment(x64, 1, 0x100, 0x200);
        byte[] image = Universal(false, x64, MachO(CpuArm64, cpuSubtype: 0));

        ImageCheckResult result = LibraryImageInspector.Check(image, BinaryFormat.MachO, Architecture.X64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
        Assert.That(result.Reason, Does.Contain("x86_64 slice"));
    }

    [Test]
    public void Check_ReportsNotALibrary_WhenSliceIsNotMachO()
    {
        byte[] image = TwoSlices();
        image[UniversalSliceOffset(image, 0)] = 0;

        ImageCheckResult result = LibraryImageInspector.Check(image, BinaryFormat.MachO, Architecture.X64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
    }

    [Test]
    public void Check_ReportsNotALibrary_WhenUniversalBinaryHasNoSlices()
    {
        byte[] image = TwoSlices();
        UniversalSetCount(image, 0);

        Assert.That(LibraryImageInspector.Check(image, BinaryFormat.MachO, Architecture.X64).Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
    }

    [Test]
    public void Check_ReportsNotALibrary_ForJavaClassFile()
    {
        byte[] javaClass = [0xCA, 0xFE, 0xBA, 0xBE, 0x00, 0x00, 0x00, 0x41, 0x00, 0x1D, 0x0A, 0x00];

        ImageCheckResult result = LibraryImageInspector.Check(javaClass, BinaryFormat.MachO, Architecture.X64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
        Assert.That(result.Format, Is.EqualTo(BinaryFormat.Unknown));
        Assert.That(result.Reason, Does.Contain("Java class"));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenShorterThanTheUniversalHeader()
    {
        ImageCheckResult result = LibraryImageInspector.Check(TwoSlices().AsSpan(..6), BinaryFormat.MachO, Architecture.X64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
        Assert.That(result.Format, Is.EqualTo(BinaryFormat.MachOUniversal));
    }

    [Test]
    public void Check_ReportsNotALibrary_ForUniversalBinaryWhenElfIsExpected()
    {
        ImageCheckResult result = LibraryImageInspector.Check(TwoSlices(), BinaryFormat.Elf, Architecture.X64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
        Assert.That(result.Reason, Does.StartWith("not a library for this OS: a macOS universal"));
    }
}
