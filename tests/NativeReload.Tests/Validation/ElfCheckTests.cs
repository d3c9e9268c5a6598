using System.Runtime.InteropServices;
using NativeReload.Validation;
using NUnit.Framework;
using static NativeReload.Tests.Validation.SyntheticImages;

namespace NativeReload.Tests.Validation;

[TestFixture]
public sealed class ElfCheckTests
{
    private static ImageCheckResult Check(byte[] image, Architecture architecture = Architecture.X64) =>
        LibraryImageInspector.Check(image, BinaryFormat.Elf, architecture);

    [TestCase(true, EmX8664, Architecture.X64)]
    [TestCase(true, EmAarch64, Architecture.Arm64)]
    [TestCase(false, Em386, Architecture.X86)]
    [TestCase(false, EmArm, Architecture.Arm)]
    [TestCase(true, (ushort)243, Architecture.RiscV64)]
    [TestCase(true, (ushort)258, Architecture.LoongArch64)]
    [TestCase(true, (ushort)21, Architecture.Ppc64le)]
    public void Check_ReportsOk_ForCompleteSharedObjectOfMatchingArchitecture(bool is64, ushort machine, Architecture architecture)
    {
        ImageCheckResult result = Check(Elf(is64, machine), architecture);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Ok), result.Reason);
        Assert.That(result.IsOk, Is.True);
        Assert.That(result.Format, Is.EqualTo(BinaryFormat.Elf));
    }

    [Test]
    public void Check_ReportsOk_ForBigEndianS390xSharedObject()
    {
        ImageCheckResult result = Check(Elf(true, EmS390, bigEndian: true), Architecture.S390x);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Ok), result.Reason);
    }

    [Test]
    public void Check_ReportsWrongArchitecture_WhenMachineDiffers()
    {
        ImageCheckResult result = Check(Elf(true, EmAarch64), Architecture.X64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.WrongArchitecture));
        Assert.That(result.Reason, Is.EqualTo("wrong architecture: built for aarch64 (ELF e_machine 183), this process is X64"));
    }

    [Test]
    public void Check_ReportsWrongArchitecture_For32BitX86LibraryInX64Process()
    {
        ImageCheckResult result = Check(Elf(false, Em386), Architecture.X64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.WrongArchitecture));
        Assert.That(result.Reason, Does.Contain("i386").And.Contain("ELFCLASS32").And.Contain("X64"));
    }

    [Test]
    public void Check_ReportsWrongArchitecture_WhenOnlyTheClassDiffers()
    {
        // An ELF32 file claiming x86_64 (as x32 objects do) cannot be loaded by a 64-bit process.
        ImageCheckResult result = Check(Elf(false, EmX8664), Architecture.X64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.WrongArchitecture));
        Assert.That(result.Reason, Does.Contain("needs ELFCLASS64"));
    }

    [Test]
    public void Check_ReportsWrongArchitecture_ForBigEndianImageInLittleEndianProcess()
    {
        ImageCheckResult result = Check(Elf(true, EmAarch64, bigEndian: true), Architecture.Arm64);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.WrongArchitecture));
        Assert.That(result.Reason, Does.Contain("big-endian").And.Contain("needs little-endian"));
    }

    [Test]
    public void Check_ReportsWrongArchitecture_ForLittleEndianImageInS390xProcess()
    {
        ImageCheckResult result = Check(Elf(true, EmS390), Architecture.S390x);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.WrongArchitecture));
        Assert.That(result.Reason, Does.Contain("needs big-endian"));
    }

    [Test]
    public void Check_ReportsWrongArchitecture_ForArchitectureWithoutElfMachine()
    {
        ImageCheckResult result = Check(Elf(), Architecture.Wasm);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.WrongArchitecture));
        Assert.That(result.Reason, Does.Contain("Wasm"));
    }

    [TestCase(EtExec, "ET_EXEC (an executable)")]
    [TestCase(EtRel, "ET_REL (a relocatable object file)")]
    [TestCase((ushort)4, "ET_CORE (a core dump)")]
    public void Check_ReportsNotALibrary_WhenTypeIsNotEtDyn(ushort type, string described)
    {
        ImageCheckResult result = Check(Elf(type: type));

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
        Assert.That(result.Reason, Does.StartWith("not a shared library: ELF type " + described));
    }

    [TestCase(0)]
    [TestCase(3)]
    public void Check_ReportsNotALibrary_WhenClassIsInvalid(byte elfClass)
    {
        byte[] image = Elf();
        image[4] = elfClass;

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
    }

    [Test]
    public void Check_ReportsNotALibrary_WhenDataEncodingIsInvalid()
    {
        byte[] image = Elf();
        image[5] = 7;

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
    }

    [Test]
    public void Check_ReportsNotALibrary_WhenIdentVersionIsNotCurrent()
    {
        byte[] image = Elf();
        image[6] = 0;

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
    }

    [Test]
    public void Check_ReportsNotALibrary_WhenThereAreNoProgramHeaders()
    {
        byte[] image = Elf();
        ElfSetProgramHeaderCount(image, 0);

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
    }

    [Test]
    public void Check_ReportsNotALibrary_WhenNoSegmentIsLoadable()
    {
        byte[] image = Elf();
        ElfSetSegment(image, 0, type: 4 /* PT_NOTE */);

        ImageCheckResult result = Check(image);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
        Assert.That(result.Reason, Does.Contain("PT_LOAD"));
    }

    [Test]
    public void Check_ReportsNotALibrary_WhenProgramHeaderEntrySizeIsWrong()
    {
        byte[] image = Elf();
        ElfSetProgramHeaderEntrySize(image, 8);

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void Check_ReportsIncomplete_WhenShorterThanTheFixedHeader(bool is64)
    {
        byte[] image = Elf(is64, is64 ? EmX8664 : Em386)[..40];

        ImageCheckResult result = Check(image, is64 ? Architecture.X64 : Architecture.X86);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
        Assert.That(result.Format, Is.EqualTo(BinaryFormat.Elf));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenSectionHeadersLieBeyondEnd()
    {
        byte[] full = Elf();
        byte[] image = new byte[full.Length + 1000];
        full.CopyTo(image, 0);
        ElfSetSectionHeaderOffset(image, 15360 - (4 * 64));
        image = image[..300];

        ImageCheckResult result = Check(image);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
        Assert.That(result.Reason, Is.EqualTo("incomplete: section headers end at byte 15360 but the file has 300 bytes (still being written or truncated)"));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenTheFileMissesOnlyItsLastBytes()
    {
        byte[] image = Elf();

        ImageCheckResult result = Check(image[..^1]);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenProgramHeadersLieBeyondEnd()
    {
        byte[] image = Elf();
        ElfSetProgramHeaderOffset(image, (ulong)image.Length - 8);

        ImageCheckResult result = Check(image);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
        Assert.That(result.Reason, Does.Contain("program headers"));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenLoadSegmentExtendsBeyondEnd()
    {
        byte[] image = Elf();
        ElfSetSegment(image, 0, fileSize: (ulong)image.Length + 1);

        ImageCheckResult result = Check(image);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
        Assert.That(result.Reason, Does.Contain("PT_LOAD"));
    }

    [Test]
    public void Check_IgnoresNonLoadSegments_ThatExtendBeyondEnd()
    {
        byte[] image = Elf();
        ElfSetSegment(image, 1, offset: 0x10_0000, fileSize: 0x1000);

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.Ok));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenSectionContentExtendsBeyondEnd()
    {
        byte[] image = Elf();
        ElfSetSection(image, 1, size: 0x10_0000);

        ImageCheckResult result = Check(image);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
        Assert.That(result.Reason, Does.Contain("section 1 (.text)"));
    }

    [Test]
    public void Check_IgnoresNoBitsSections_WhoseRangeLiesBeyondEnd()
    {
        // The synthetic .bss (section 3) is SHT_NOBITS at offset 0x100000; turning it into PROGBITS must fail.
        byte[] image = Elf();
        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.Ok));

        ElfSetSection(image, 3, type: 1);

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.Incomplete));
    }

    [Test]
    public void Check_ReportsOk_WhenThereIsNoSectionHeaderTable()
    {
        // Stripped-to-the-bone objects may have e_shoff 0; the loader only needs the program headers.
        byte[] image = Elf();
        ElfSetSectionHeaderOffset(image, 0);

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.Ok));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenSectionHeaderOffsetOverflows()
    {
        byte[] image = Elf();
        ElfSetSectionHeaderOffset(image, 0xFFFFFFFFFFFFFFF0);

        ImageCheckResult result = Check(image);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
        Assert.That(result.Reason, Does.Contain("18446744073709551856"));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenProgramHeaderOffsetOverflows()
    {
        byte[] image = Elf();
        ElfSetProgramHeaderOffset(image, 0xFFFFFFFFFFFFFFF0);

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.Incomplete));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenSegmentOffsetPlusSizeOverflows()
    {
        byte[] image = Elf();
        ElfSetSegment(image, 0, offset: 0xFFFFFFFFFFFFFFF0, fileSize: 0x20);

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.Incomplete));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenSectionOffsetPlusSizeOverflows()
    {
        byte[] image = Elf();
        ElfSetSection(image, 1, offset: 0xFFFFFFFFFFFFFFF0, size: 0x20);

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.Incomplete));
    }

    [Test]
    public void Check_ReportsIncomplete_WhenExtendedSectionCountIsHuge()
    {
        // e_shnum 0 means "the count is in section 0's sh_size" (extended numbering).
        byte[] image = Elf();
        ElfSetSectionCount(image, 0);
        ElfSetSection(image, 0, size: ulong.MaxValue);

        ImageCheckResult result = Check(image);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete));
        Assert.That(result.Reason, Does.Contain("section headers end at byte"));
    }

    [Test]
    public void Check_HonoursExtendedSectionCount()
    {
        byte[] image = Elf();
        ElfSetSectionCount(image, 0);
        ElfSetSection(image, 0, size: 4);

        Assert.That(Check(image).Verdict, Is.EqualTo(ImageVerdict.Ok));
    }

    [Test]
    public void Check_ReportsIncomplete_For32BitSectionBeyondEnd()
    {
        byte[] image = Elf(false, Em386);
        ElfSetSection(image, 2, offset: 0xFFFFFFF0, size: 0x20);

        Assert.That(Check(image, Architecture.X86).Verdict, Is.EqualTo(ImageVerdict.Incomplete));
    }
}
