using System.Runtime.InteropServices;
using NativeReload.Validation;
using NUnit.Framework;
using static NativeReload.Tests.Validation.SyntheticImages;

namespace NativeReload.Tests.Validation;

[TestFixture]
public sealed class MachOCheckTests
{
    private static ImageCheckResult Check(byte[] image, Architecture architecture = Architecture.X64) =>
        LibraryImageInspector.Check(image, BinaryFormat.MachO, architecture);

    [TestCase(CpuX8664, true, MhDylib, Architecture.X64)]
    [TestCase(CpuArm64, true, MhDylib, Architecture.Arm64)]
    [TestCase(CpuArm64, true, MhBundle, Architecture.Arm64)]
    [TestCase(CpuI386, false, MhDylib, Architecture.X86)]
    [TestCase(CpuArm, false, MhBundle, Architecture.Arm)]
    public void Check_ReportsOk_ForCompleteLibraryOfMatchingArchitecture(uint cpu, bool is64, uint fileType, Architecture architecture)
    {
        ImageCheckResult result = Check(MachO(cpu, is64, fileType), architecture);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Ok), result.Reason);
        Assert.That(result.Format, Is.EqualTo(BinaryFormat.MachO));
    }

    [Test]
    public void Check_ReportsWrongArchitecture_WhenCpuTypeDiffers()
    {
        ImageCheckResult result = Check(MachO(CpuArm64), Architecture.X64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.WrongArchitecture));
        Assert.That(result.Reason, Is.EqualTo("wrong architecture: built for arm64 (Mach-O cputype 0x0100000C), this process is X64"));
    }

    [Test]
    public void Check_ReportsWrongArchitecture_For32BitLibraryInX64Process()
    {
        Assert.That(Check(MachO(CpuI386, is64: false), Architecture.X64).Verdict, Is.EqualTo(ImageVerdict.WrongArchitecture));
    }

    [Test]
    public void Check_ReportsWrongArchitecture_ForBigEndianPowerPcImage()
    {
        byte[] image = MachO(is64: false);
        for (int field = 0; field < 28; field += 4)
        {
            Array.Reverse(image, field, 4); // big-endian header: fe ed fa ce ...
        }

        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(image.AsSpan(4), 18); // CPU_TYPE_POWERPC

        ImageCheckResult result = Check(image);

        Assert.That(result.Format, Is.EqualTo(BinaryFormat.MachO));
        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.WrongArchitecture));
        Assert.That(result.Reason, Does.Contain("ppc").And.Contain("big-endian"));
    }

    [TestCase(MhExecute, "MH_EXECUTE (an executable)")]
    [TestCase(1u, "MH_OBJECT (an object file)")]
    public void Check_ReportsNotALibrary_WhenFileTypeIsNotDylibOrBundle(uint fileType, string described)
    {
        ImageCheckResult result = Check(MachO(fileType: fileType));

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
        Assert.That(result.Reason, Does.StartWith("not a shared library: Mach-O file type " + described));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenShorterThanTheHeader()
    {
        ImageCheckResult result = Check(MachO()[..20]);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
        Assert.That(result.Format, Is.EqualTo(BinaryFormat.MachO));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenLoadCommandsLieBeyondEnd()
    {
        byte[] image = MachO();
        MachOSetCommandsSize(image, 0xFFFF_FFF0);

        ImageCheckResult result = Check(image);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
        Assert.That(result.Reason, Does.Contain("load commands end at byte 4294967312"));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenSegmentExtendsBeyondEnd()
    {
        byte[] image = MachO();
        MachOSetSegment(image, 1, 0x100, 0x1000);

        ImageCheckResult result = Check(image);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
        Assert.That(result.Reason, Does.Contain("segment __LINKEDIT"));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenSegmentOffsetOverflows()
    {
        byte[] image = MachO();
        MachOSetSegment(image, 1, 0xFFFFFFFFFFFFFFF0, 0x20);

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.Incomplete));
    }

    [Test]
    public void Check_ReportsIncomplete_When32BitSegmentExtendsBeyondEnd()
    {
        byte[] image = MachO(CpuI386, is64: false);
        MachOSetSegment(image, 0, 0xFFFF_FFF0, 0x20);

        Assert.That(Check(image, Architecture.X86).Verdict, Is.EqualTo(ImageVerdict.Incomplete));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenCodeSignatureExtendsBeyondEnd()
    {
        byte[] image = MachO();
        MachOSetCodeSignature(image, 0x140, 0x21);

        ImageCheckResult result = Check(image);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
        Assert.That(result.Reason, Does.Contain("code signature"));
    }

    [TestCase(0u)]
    [TestCase(4u)]
    [TestCase(0xFFFF_FFF8u)]
    public void Check_ReportsNotALibrary_WhenLoadCommandSizeIsMalformed(uint commandSize)
    {
        byte[] image = MachO();
        MachOSetCommandSize(image, 1, commandSize);

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
    }

    [Test]
    public void Check_ReportsNotALibrary_WhenSegmentCommandIsTooSmall()
    {
        byte[] image = MachO();
        MachOSetCommandSize(image, 0, 16);

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
    }

    [Test]
    public void Check_ReportsNotALibrary_WhenCommandCountExceedsCommandsSize()
    {
        byte[] image = MachO();
        MachOSetCommandCount(image, uint.MaxValue);

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
    }
}
