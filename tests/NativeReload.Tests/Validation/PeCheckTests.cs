using System.Runtime.InteropServices;
using NativeReload.Validation;
using NUnit.Framework;
using static NativeReload.Tests.Validation.SyntheticImages;

namespace NativeReload.Tests.Validation;

[TestFixture]
public sealed class PeCheckTests
{
    private static ImageCheckResult Check(byte[] image, Architecture architecture = Architecture.X64) =>
        LibraryImageInspector.Check(image, BinaryFormat.Pe, architecture);

    [TestCase(PeAmd64, true, Architecture.X64)]
    [TestCase(PeArm64, true, Architecture.Arm64)]
    [TestCase(PeI386, false, Architecture.X86)]
    [TestCase(PeArmNT, false, Architecture.Arm)]
    public void Check_ReportsOk_ForCompleteDllOfMatchingArchitecture(ushort machine, bool pe32Plus, Architecture architecture)
    {
        ImageCheckResult result = Check(Pe(machine, pe32Plus), architecture);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Ok), result.Reason);
        Assert.That(result.Format, Is.EqualTo(BinaryFormat.Pe));
    }

    [Test]
    public void Check_ReportsWrongArchitecture_WhenMachineDiffers()
    {
        ImageCheckResult result = Check(Pe(PeArm64), Architecture.X64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.WrongArchitecture));
        Assert.That(result.Reason, Is.EqualTo("wrong architecture: built for arm64 (PE machine 0xAA64), this process is X64"));
    }

    [Test]
    public void Check_ReportsWrongArchitecture_For32BitDllInX64Process()
    {
        Assert.That(Check(Pe(PeI386, pe32Plus: false), Architecture.X64).Verdict, Is.EqualTo(ImageVerdict.WrongArchitecture));
    }

    [Test]
    public void Check_ReportsWrongArchitecture_ForArchitectureWithoutPeMachine()
    {
        byte[] image = Pe();
        PeSetMachine(image, 0);

        Assert.That(Check(image, Architecture.RiscV64).Verdict, Is.EqualTo(ImageVerdict.WrongArchitecture));
    }

    [Test]
    public void Check_ReportsNotALibrary_ForExecutableWithoutDllFlag()
    {
        ImageCheckResult result = Check(Pe(characteristics: PeExeCharacteristics));

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
        Assert.That(result.Reason, Does.StartWith("not a shared library: a PE executable, not a DLL"));
    }

    [Test]
    public void Check_ReportsNotALibrary_WhenPeSignatureIsMissing()
    {
        byte[] image = Pe();
        image[PeLfanew(image)] = (byte)'X';

        ImageCheckResult result = Check(image);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
        Assert.That(result.Reason, Does.Contain("without a PE signature"));
    }

    [TestCase((ushort)0x107)]
    [TestCase((ushort)0)]
    public void Check_ReportsNotALibrary_WhenOptionalHeaderMagicIsUnknown(ushort magic)
    {
        byte[] image = Pe();
        PeSetOptionalMagic(image, magic);

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
    }

    [Test]
    public void Check_ReportsNotALibrary_WhenOptionalHeaderKindContradictsMachine()
    {
        byte[] image = Pe();
        PeSetOptionalMagic(image, 0x10B);

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenShorterThanTheDosHeader()
    {
        ImageCheckResult result = Check(Pe()[..40]);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
        Assert.That(result.Format, Is.EqualTo(BinaryFormat.Pe));
    }

    [TestCase(0x7FFF_FFF0u)]
    [TestCase(0xFFFF_FFF0u)]
    [TestCase(0x0000_0640u)]
    public void Check_ReportsIncomplete_WhenLfanewPointsBeyondEnd(uint lfanew)
    {
        byte[] image = Pe();
        PeSetLfanew(image, lfanew);

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.Incomplete));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenSectionTableLiesBeyondEnd()
    {
        byte[] image = Pe();
        PeSetSectionCount(image, 0xFFFF);

        ImageCheckResult result = Check(image);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
        Assert.That(result.Reason, Does.Contain("section table"));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenSectionRawDataExtendsBeyondEnd()
    {
        byte[] image = Pe();
        PeSetSection(image, 1, rawPointer: 0x400, rawSize: 0x10000);

        ImageCheckResult result = Check(image);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
        Assert.That(result.Reason, Does.Contain(".rdata"));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenSectionRawDataOverflows()
    {
        byte[] image = Pe();
        PeSetSection(image, 0, rawPointer: 0xFFFF_FFF0, rawSize: 0x20);

        ImageCheckResult result = Check(image);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
        Assert.That(result.Reason, Does.Contain("4294967312"));
    }

    [Test]
    public void Check_IgnoresSectionsWithoutRawData()
    {
        byte[] image = Pe();
        PeSetSection(image, 1, rawPointer: 0xFFFF_FFF0, rawSize: 0);

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.Ok));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenCertificateTableExtendsBeyondEnd()
    {
        byte[] image = Pe();
        PeSetCertificate(image, 0x600, 0x41);

        ImageCheckResult result = Check(image);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
        Assert.That(result.Reason, Does.Contain("certificate"));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenCertificateTableOverflows()
    {
        byte[] image = Pe();
        PeSetCertificate(image, 0xFFFF_FFF0, 0xFFFF_FFF0);

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.Incomplete));
    }

    [Test]
    public void Check_ReportsOk_WhenThereIsNoCertificate()
    {
        byte[] image = Pe();
        PeSetCertificate(image, 0, 0);

        Assert.That(Check(image[..0x600]).Verdict, Is.EqualTo(ImageVerdict.Ok));
    }

    [Test]
    public void Check_ReportsIncomplete_ForUnsignedDllMissingItsLastSectionByte()
    {
        byte[] image = Pe();
        PeSetCertificate(image, 0, 0);

        Assert.That(Check(image[..0x5FF]).Verdict, Is.EqualTo(ImageVerdict.Incomplete));
    }
}
