using System.Runtime.InteropServices;
using NativeReload.Validation;
using NUnit.Framework;
using static NativeReload.Tests.Validation.SyntheticImages;

namespace NativeReload.Tests.Validation;

/// <summary>Hostile input: prefixes of valid images, random bytes and mutated headers must never throw or pass.</summary>
[TestFixture]
public sealed class RobustnessTests
{
    public static IEnumerable<TestCaseData> ValidImages()
    {
        yield return new TestCaseData(Elf(true, EmX8664), BinaryFormat.Elf, Architecture.X64).SetArgDisplayNames("ELF64");
        yield return new TestCaseData(Elf(false, Em386), BinaryFormat.Elf, Architecture.X86).SetArgDisplayNames("ELF32");
        yield return new TestCaseData(Elf(true, EmS390, bigEndian: true), BinaryFormat.Elf, Architecture.S390x).SetArgDisplayNames("ELF64-big-endian");
        yield return new TestCaseData(Pe(PeAmd64), BinaryFormat.Pe, Architecture.X64).SetArgDisplayNames("PE32+");
        yield return new TestCaseData(Pe(PeI386, pe32Plus: false), BinaryFormat.Pe, Architecture.X86).SetArgDisplayNames("PE32");
        yield return new TestCaseData(MachO(CpuX8664), BinaryFormat.MachO, Architecture.X64).SetArgDisplayNames("MachO64");
        yield return new TestCaseData(MachO(CpuI386, is64: false), BinaryFormat.MachO, Architecture.X86).SetArgDisplayNames("MachO32");
        yield return new TestCaseData(Universal(false, MachO(CpuX8664), MachO(CpuArm64, cpuSubtype: 0)), BinaryFormat.MachO, Architecture.Arm64).SetArgDisplayNames("Universal");
        yield return new TestCaseData(Universal(true, MachO(CpuArm64, cpuSubtype: 0), MachO(CpuX8664)), BinaryFormat.MachO, Architecture.X64).SetArgDisplayNames("Universal64");
    }

    [TestCaseSource(nameof(ValidImages))]
    public void Check_ReportsIncomplete_ForEveryStrictPrefixOfAValidImage(byte[] image, BinaryFormat format, Architecture architecture)
    {
        Assert.That(LibraryImageInspector.Check(image, format, architecture).Verdict, Is.EqualTo(ImageVerdict.Ok), "the full image must pass");

        for (int length = 1; length < image.Length; length++)
        {
            ImageCheckResult result = LibraryImageInspector.Check(image.AsSpan(0, length), format, architecture);
            Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete), () => $"prefix of {length} bytes: {result.Reason}");
        }
    }

    [Test]
    public void Check_NeverThrowsOrPasses_OnRandomBytes()
    {
        var random = new Random(12345);
        for (int iteration = 0; iteration < 1000; iteration++)
        {
            byte[] image = new byte[random.Next(0, 4096)];
            random.NextBytes(image);
            foreach (BinaryFormat format in new[] { BinaryFormat.Elf, BinaryFormat.Pe, BinaryFormat.MachO })
            {
                ImageCheckResult result = LibraryImageInspector.Check(image, format, Architecture.X64);
                Assert.That(result.Verdict, Is.Not.EqualTo(ImageVerdict.Ok), () => $"iteration {iteration}: {result.Reason}");
                AssertOneLine(result);
            }
        }
    }

    [Test]
    public void Check_NeverThrowsOrPasses_OnRandomBytesBehindAKnownMagic()
    {
        // Each magic with the format it announces, stated here rather than asked of the product.
        (byte[] Magic, BinaryFormat Format)[] magics =
        [
            ([0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x01], BinaryFormat.Elf),
            ([0x7F, 0x45, 0x4C, 0x46, 0x01, 0x02, 0x01], BinaryFormat.Elf),
            ([(byte)'M', (byte)'Z'], BinaryFormat.Pe),
            ([0xCF, 0xFA, 0xED, 0xFE], BinaryFormat.MachO),
            ([0xCE, 0xFA, 0xED, 0xFE], BinaryFormat.MachO),
            ([0xCA, 0xFE, 0xBA, 0xBE, 0x00, 0x00, 0x00, 0x02], BinaryFormat.MachO),
            ([0xCA, 0xFE, 0xBA, 0xBF, 0x00, 0x00, 0x00, 0x01], BinaryFormat.MachO),
        ];
        var random = new Random(777);
        for (int iteration = 0; iteration < 1000; iteration++)
        {
            (byte[] magic, BinaryFormat format) = magics[iteration % magics.Length];
            byte[] image = new byte[magic.Length + random.Next(0, 512)];
            random.NextBytes(image);
            magic.CopyTo(image, 0);
            foreach (Architecture architecture in new[] { Architecture.X64, Architecture.Arm64, Architecture.X86 })
            {
                ImageCheckResult result = LibraryImageInspector.Check(image, format, architecture);
                Assert.That(result.Verdict, Is.Not.EqualTo(ImageVerdict.Ok), () => $"iteration {iteration}: random bytes behind a {format} magic passed: {result.Reason}");
                AssertOneLine(result);
            }
        }
    }

    [TestCaseSource(nameof(ValidImages))]
    public void Check_NeverThrows_OnRandomlyMutatedHeaders(byte[] original, BinaryFormat format, Architecture architecture)
    {
        var random = new Random(4242);
        int headerRegion = Math.Min(original.Length, 512);
        for (int iteration = 0; iteration < 1000; iteration++)
        {
            byte[] image = (byte[])original.Clone();
            int mutations = random.Next(1, 9);
            for (int m = 0; m < mutations; m++)
            {
                int at = random.Next(4, headerRegion); // keep the magic so the format parser is exercised
                image[at] = random.Next(3) switch
                {
                    0 => 0xFF,
                    1 => 0x00,
                    _ => (byte)random.Next(256),
                };
            }

            int length = random.Next(2) == 0 ? image.Length : random.Next(0, image.Length + 1);
            ImageCheckResult result = LibraryImageInspector.Check(image.AsSpan(0, length), format, architecture);
            AssertOneLine(result);
        }
    }

    [Test]
    public void Check_NeverThrows_WhenEveryHeaderWordIsSaturated()
    {
        foreach (TestCaseData data in ValidImages())
        {
            byte[] original = (byte[])data.Arguments[0]!;
            var format = (BinaryFormat)data.Arguments[1]!;
            var architecture = (Architecture)data.Arguments[2]!;
            for (int offset = 4; offset + 4 <= Math.Min(original.Length, 400); offset++)
            {
                foreach (uint value in new[] { 0xFFFFFFFFu, 0xFFFFFFF0u, 0x80000000u, 0x7FFFFFFFu, 0u })
                {
                    byte[] image = (byte[])original.Clone();
                    System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(offset), value);
                    AssertOneLine(LibraryImageInspector.Check(image, format, architecture));
                }
            }
        }
    }

    private static void AssertOneLine(ImageCheckResult result)
    {
        Assert.That(result.Reason, Is.Not.Empty);
        Assert.That(result.Reason, Does.Not.Contain('\n').And.Not.Contain('\r'));
    }
}
