using System.Runtime.InteropServices;
using NativeReload.Validation;
using NUnit.Framework;
using static NativeReload.Tests.Validation.SyntheticImages;

namespace NativeReload.Tests.Validation;

[TestFixture]
public sealed class LibraryImageInspectorTests
{
    [TestCase(BinaryFormat.Elf)]
    [TestCase(BinaryFormat.Pe)]
    [TestCase(BinaryFormat.MachO)]
    public void Check_ReportsEmpty_ForZeroBytes(BinaryFormat expected)
    {
        ImageCheckResult result = LibraryImageInspector.Check([], expected, Architecture.X64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Empty));
        Assert.That(result.Reason, Is.EqualTo("file is empty"));
        Assert.That(result.IsOk, Is.False);
    }

    [Test]
    public void Check_ReportsNotALibrary_ShowingFirstBytes_ForUnknownMagic()
    {
        ImageCheckResult result = LibraryImageInspector.Check("<html><body>"u8, BinaryFormat.Elf, Architecture.X64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
        Assert.That(result.Format, Is.EqualTo(BinaryFormat.Unknown));
        Assert.That(result.Reason, Is.EqualTo("not a shared library: starts with 3c 68 74 6d, expected an ELF header"));
    }

    [TestCase(new byte[] { 0x00 }, "00")]
    [TestCase(new byte[] { 0x41, 0x42 }, "41 42")]
    public void Check_ReportsNotALibrary_ForShortUnknownContent(byte[] image, string hex)
    {
        ImageCheckResult result = LibraryImageInspector.Check(image, BinaryFormat.Pe, Architecture.X64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
        Assert.That(result.Reason, Is.EqualTo($"not a shared library: starts with {hex}, expected a PE (MZ) header"));
    }

    [TestCase(new byte[] { 0x7F })]
    [TestCase(new byte[] { 0x7F, 0x45, 0x4C })]
    [TestCase(new byte[] { 0x4D })]
    [TestCase(new byte[] { 0xCF, 0xFA })]
    [TestCase(new byte[] { 0xCA, 0xFE, 0xBA })]
    public void Check_ReportsIncomplete_ForAPrefixOfAKnownMagic(byte[] image)
    {
        Assert.That(LibraryImageInspector.Check(image, BinaryFormat.Elf, Architecture.X64).Verdict, Is.EqualTo(ImageVerdict.Incomplete));
    }

    [Test]
    public void Check_ReportsNotALibraryForThisOS_ForPeImageWhenElfIsExpected()
    {
        ImageCheckResult result = LibraryImageInspector.Check(Pe(), BinaryFormat.Elf, Architecture.X64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
        Assert.That(result.Format, Is.EqualTo(BinaryFormat.Pe));
        Assert.That(result.Reason, Does.StartWith("not a library for this OS: a Windows PE image, ").And.EndWith("ELF"));
    }

    [Test]
    [Platform("Linux")]
    public void Check_NamesTheRunningOS_WhenFormatIsForAnotherOS()
    {
        ImageCheckResult result = LibraryImageInspector.CheckForCurrentProcess(Pe());

        Assert.That(result.Reason, Is.EqualTo("not a library for this OS: a Windows PE image, this process runs on Linux and needs ELF"));
    }

    [TestCase(BinaryFormat.Pe)]
    [TestCase(BinaryFormat.MachO)]
    public void Check_ReportsNotALibraryForThisOS_ForElfImageWhenAnotherFormatIsExpected(BinaryFormat expected)
    {
        ImageCheckResult result = LibraryImageInspector.Check(Elf(), expected, Architecture.X64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
        Assert.That(result.Format, Is.EqualTo(BinaryFormat.Elf));
        Assert.That(result.Reason, Does.StartWith("not a library for this OS: an ELF image"));
    }

    [Test]
    public void Check_ReportsNotALibraryForThisOS_ForMachOWhenPeIsExpected()
    {
        ImageCheckResult result = LibraryImageInspector.Check(MachO(), BinaryFormat.Pe, Architecture.X64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
        Assert.That(result.Reason, Does.StartWith("not a library for this OS: a macOS Mach-O image"));
    }

    [Test]
    public void Check_ReportsNotALibraryForThisOS_ForTruncatedImageOfAnotherFormat()
    {
        // Recognising the format is enough to know it can never load here, however short the file is.
        Assert.That(LibraryImageInspector.Check(Pe().AsSpan(..10), BinaryFormat.Elf, Architecture.X64).Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
    }

    [Test]
    public void Check_ReportsNotALibrary_WhenNoFormatIsExpected()
    {
        ImageCheckResult result = LibraryImageInspector.Check(Elf(), BinaryFormat.Unknown, Architecture.X64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
        Assert.That(result.Reason, Does.Contain("no native library format is known"));
    }

    [Test]
    public void DetectFormat_RecognisesEverySyntheticFormat()
    {
        Assert.That(LibraryImageInspector.DetectFormat(Elf()), Is.EqualTo(BinaryFormat.Elf));
        Assert.That(LibraryImageInspector.DetectFormat(Elf(false, Em386)), Is.EqualTo(BinaryFormat.Elf));
        Assert.That(LibraryImageInspector.DetectFormat(Pe()), Is.EqualTo(BinaryFormat.Pe));
        Assert.That(LibraryImageInspector.DetectFormat(MachO()), Is.EqualTo(BinaryFormat.MachO));
        Assert.That(LibraryImageInspector.DetectFormat(MachO(CpuI386, is64: false)), Is.EqualTo(BinaryFormat.MachO));
        Assert.That(LibraryImageInspector.DetectFormat(Universal(false, MachO())), Is.EqualTo(BinaryFormat.MachOUniversal));
        Assert.That(LibraryImageInspector.DetectFormat(Universal(true, MachO())), Is.EqualTo(BinaryFormat.MachOUniversal));
    }

    [Test]
    public void DetectFormat_ReturnsUnknown_ForTextJavaClassAndEmpty()
    {
        Assert.That(LibraryImageInspector.DetectFormat([]), Is.EqualTo(BinaryFormat.Unknown));
        Assert.That(LibraryImageInspector.DetectFormat("#!/bin/sh\n"u8), Is.EqualTo(BinaryFormat.Unknown));
        Assert.That(LibraryImageInspector.DetectFormat([0xCA, 0xFE, 0xBA, 0xBE, 0x00, 0x00, 0x00, 0x34]), Is.EqualTo(BinaryFormat.Unknown));
        Assert.That(LibraryImageInspector.DetectFormat([0x7F, 0x45, 0x4C]), Is.EqualTo(BinaryFormat.Unknown));
    }

    [Test]
    public void NativeFormatForCurrentOS_MatchesTheRunningOS()
    {
        BinaryFormat expected = OperatingSystem.IsWindows() ? BinaryFormat.Pe
            : OperatingSystem.IsMacOS() ? BinaryFormat.MachO
            : OperatingSystem.IsLinux() || OperatingSystem.IsFreeBSD() ? BinaryFormat.Elf
            : BinaryFormat.Unknown;

        Assert.That(LibraryImageInspector.NativeFormatForCurrentOS, Is.EqualTo(expected));
    }

    [Test]
    public void CheckForCurrentProcess_AcceptsSyntheticLibraryForThisOSAndArchitecture()
    {
        // The image is picked from the OS as the test sees it, not from the product's own answer to the same question.
        BinaryFormat thisOs = OperatingSystem.IsWindows() ? BinaryFormat.Pe : OperatingSystem.IsMacOS() ? BinaryFormat.MachO : BinaryFormat.Elf;
        byte[]? image = (thisOs, RuntimeInformation.ProcessArchitecture) switch
        {
            (BinaryFormat.Elf, Architecture.X64) => Elf(true, EmX8664),
            (BinaryFormat.Elf, Architecture.Arm64) => Elf(true, EmAarch64),
            (BinaryFormat.Pe, Architecture.X64) => Pe(PeAmd64),
            (BinaryFormat.Pe, Architecture.Arm64) => Pe(PeArm64),
            (BinaryFormat.MachO, Architecture.X64) => MachO(CpuX8664),
            (BinaryFormat.MachO, Architecture.Arm64) => MachO(CpuArm64, cpuSubtype: 0),
            _ => null,
        };
        Assume.That(image, Is.Not.Null, "no synthetic image for this OS/architecture");

        ImageCheckResult result = LibraryImageInspector.CheckForCurrentProcess(image);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Ok), result.Reason);
    }

    [Test]
    public void Check_DoesNotAllocate_OnSuccess()
    {
        byte[] elf = Elf();
        byte[] pe = Pe();
        byte[] machO = MachO();
        byte[] universal = Universal(true, MachO(CpuArm64, cpuSubtype: 0), MachO());
        for (int warmUp = 0; warmUp < 3; warmUp++)
        {
            RunAll();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        bool allOk = RunAll();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(allOk, Is.True);
        Assert.That(allocated, Is.Zero);

        bool RunAll()
        {
            bool ok = true;
            for (int i = 0; i < 100; i++)
            {
                ok &= LibraryImageInspector.Check(elf, BinaryFormat.Elf, Architecture.X64).IsOk;
                ok &= LibraryImageInspector.Check(pe, BinaryFormat.Pe, Architecture.X64).IsOk;
                ok &= LibraryImageInspector.Check(machO, BinaryFormat.MachO, Architecture.X64).IsOk;
                ok &= LibraryImageInspector.Check(universal, BinaryFormat.MachO, Architecture.X64).IsOk;
            }

            return ok;
        }
    }
}
