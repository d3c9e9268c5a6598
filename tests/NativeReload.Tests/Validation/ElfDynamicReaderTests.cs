using System.Buffers.Binary;
using System.Text;
using NativeReload.Tests.Support;
using NativeReload.Validation;

namespace NativeReload.Tests.Validation;

/// <summary>The soname and STB_GNU_UNIQUE symbols read from .dynsym: real g++ output, synthetic ELF32/ELF64 in both
/// byte orders, stripped section headers, and hostile bytes.</summary>
[TestFixture]
public sealed class ElfDynamicReaderTests
{
    private static readonly string[] FixtureUniqueSymbols =
        ["_ZZN20nativereload_fixture6holderEvE8instance", "_ZGVZN20nativereload_fixture6holderEvE8instance"];

    [Test]
    public void Read_FindsTheUniqueSymbolsAndSoname_OfTheRealGxxFixture()
    {
        RequireGroup("unique_cpp");
        ElfDynamicInfo info = ElfDynamicReader.Read(File.ReadAllBytes(TestPaths.Fixture("unique_cpp_v1")));

        Assert.That(info.UniqueSymbols, Is.EquivalentTo(FixtureUniqueSymbols));
        Assert.That(info.UniqueSymbolCount, Is.EqualTo(2));
        Assert.That(info.Soname, Is.EqualTo("libunique_cpp_v1.so"));
    }

    [Test]
    public void Read_FindsNoUniqueSymbols_WhenTheSameSourceIsBuiltWithTheCMakeHelpersDefaults()
    {
        RequireGroup("unique_cpp_fixed");
        ElfDynamicInfo info = ElfDynamicReader.Read(File.ReadAllBytes(TestPaths.Fixture("unique_cpp_fixed_v1")));

        Assert.That(info.UniqueSymbolCount, Is.Zero, "-fno-gnu-unique comes from cmake/NativeReloadNativeTarget.cmake");
        Assert.That(info.Soname, Is.EqualTo("libunique_cpp_fixed_v1.so"));
    }

    [Test]
    public void Read_FindsTheSameSymbols_ThroughTheDynamicSegment_WhenSectionHeadersAreStripped()
    {
        RequireGroup("unique_cpp");
        byte[] image = File.ReadAllBytes(TestPaths.Fixture("unique_cpp_v1"));
        StripSectionHeaders(image);

        ElfDynamicInfo info = ElfDynamicReader.Read(image);

        Assert.That(info.UniqueSymbols, Is.EquivalentTo(FixtureUniqueSymbols), "DT_SYMTAB + DT_GNU_HASH");
        Assert.That(info.Soname, Is.EqualTo("libunique_cpp_v1.so"));
    }

    [Test]
    [Platform("Linux")]
    public void Read_GivesTheSameUniqueSymbols_FromSectionsAndFromTheDynamicSegment_ForLibstdcxx()
    {
        string? libstdcxx = new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6" }
            .FirstOrDefault(File.Exists);
        if (libstdcxx is null)
        {
            Assert.Ignore("no libstdc++.so.6 on this machine");
        }

        byte[] image = File.ReadAllBytes(libstdcxx);
        ElfDynamicInfo fromSections = ElfDynamicReader.Read(image);
        StripSectionHeaders(image);
        ElfDynamicInfo fromDynamic = ElfDynamicReader.Read(image);

        Assert.That(fromSections.UniqueSymbolCount, Is.GreaterThan(10), "libstdc++ has its locale ids as unique symbols");
        Assert.That(fromDynamic.UniqueSymbols, Is.EqualTo(fromSections.UniqueSymbols));
        Assert.That(fromDynamic.UniqueSymbolCount, Is.EqualTo(fromSections.UniqueSymbolCount));
        Assert.That(fromSections.Soname, Is.EqualTo("libstdc++.so.6"));
    }

    [TestCase(true, false, true)]
    [TestCase(true, true, true)]
    [TestCase(false, false, true)]
    [TestCase(false, true, true)]
    [TestCase(true, false, false)]
    [TestCase(true, true, false)]
    [TestCase(false, false, false)]
    [TestCase(false, true, false)]
    public void Read_FindsTheDefinedUniqueSymbols_InEveryClassAndByteOrder(bool is64, bool bigEndian, bool withSections)
    {
        byte[] image = SyntheticDynamicElf.Build(is64, bigEndian, withSections);

        ElfDynamicInfo info = ElfDynamicReader.Read(image);

        Assert.That(info.Soname, Is.EqualTo("libsynth.so.1"));
        Assert.That(info.UniqueSymbols, Is.EqualTo(new[] { "_ZN7CounterIiE5countE", "_ZZ9get_countvE1n" }), "the undefined unique reference is not listed");
    }

    [Test]
    public void Read_ReturnsNothing_ForImagesThatAreNotElf()
    {
        Assert.That(ElfDynamicReader.Read([]), Is.SameAs(ElfDynamicInfo.None));
        Assert.That(ElfDynamicReader.Read("MZ not elf"u8), Is.SameAs(ElfDynamicInfo.None));
        Assert.That(ElfDynamicReader.Read([0x7F, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1]), Is.SameAs(ElfDynamicInfo.None));
    }

    [Test]
    public void Read_NeverThrows_OnCorruptedOrTruncatedImages()
    {
        var random = new Random(12);
        byte[][] seeds = [SyntheticDynamicElf.Build(true, false, true), SyntheticDynamicElf.Build(false, true, false), SyntheticDynamicElf.Build(true, true, false)];
        foreach (byte[] seed in seeds)
        {
            for (int length = 0; length <= seed.Length; length++)
            {
                byte[] truncated = seed[..length];
                Assert.DoesNotThrow(() => ElfDynamicReader.Read(truncated));
            }

            for (int round = 0; round < 3000; round++)
            {
                byte[] image = (byte[])seed.Clone();
                for (int k = random.Next(1, 8); k > 0; k--)
                {
                    // Mostly extreme values: offsets such as 0xFFFF…, counts such as 0x7FFF…
                    image[random.Next(image.Length)] = random.Next(3) switch { 0 => 0xFF, 1 => 0x7F, _ => (byte)random.Next(256) };
                }

                Assert.DoesNotThrow(() => ElfDynamicReader.Read(image), $"round {round}");
            }
        }
    }

    private static void RequireGroup(string group)
    {
        if (!TestPaths.HasFixtureGroup(group))
        {
            Assert.Ignore($"fixture group '{group}' was not built (g++ on ELF only)");
        }
    }

    /// <summary>What <c>strip --strip-section-headers</c> does: e_shoff, e_shnum, e_shstrndx = 0.</summary>
    private static void StripSectionHeaders(byte[] image)
    {
        bool is64 = image[4] == 2;
        image.AsSpan(is64 ? 40 : 32, is64 ? 8 : 4).Clear();
        image.AsSpan(is64 ? 60 : 48, 4).Clear();
    }

    /// <summary>
    /// A minimal ELF shared object: one PT_LOAD at 0x10000, a PT_DYNAMIC with DT_SONAME, DT_STRTAB, DT_SYMTAB,
    /// DT_STRSZ, DT_SYMENT and DT_HASH, a .dynsym of five symbols (null; two defined STB_GNU_UNIQUE; one global; one
    /// undefined STB_GNU_UNIQUE) and, optionally, the section headers for .dynsym and .dynstr.
    /// </summary>
    private static class SyntheticDynamicElf
    {
        private const ulong Base = 0x10000;

        public static byte[] Build(bool is64, bool big, bool withSections)
        {
            int ehdr = is64 ? 64 : 52, phent = is64 ? 56 : 32, shent = is64 ? 64 : 40, syment = is64 ? 24 : 16, dynent = is64 ? 16 : 8;
            const string Table = "\0libsynth.so.1\0_ZN7CounterIiE5countE\0plain\0_ZZ9get_countvE1n\0_ZN5Other1xE\0";
            byte[] strings = Encoding.ASCII.GetBytes(Table);
            int soname = Table.IndexOf("libsynth", StringComparison.Ordinal), counter = Table.IndexOf("_ZN7", StringComparison.Ordinal);
            int plain = Table.IndexOf("plain", StringComparison.Ordinal), local = Table.IndexOf("_ZZ9", StringComparison.Ordinal);
            int other = Table.IndexOf("_ZN5", StringComparison.Ordinal);

            int phoff = ehdr;
            int stroff = phoff + (2 * phent);
            int symoff = Align(stroff + strings.Length, 8);
            int hashoff = symoff + (5 * syment);
            int dynoff = Align(hashoff + (4 * (2 + 1 + 5)), 8);
            int shoff = dynoff + (7 * dynent);
            int length = shoff + (withSections ? 3 * shent : 0);
            var w = new Writer(new byte[length], is64, big);

            // ELF header
            w.Bytes(0, [0x7F, (byte)'E', (byte)'L', (byte)'F', (byte)(is64 ? 2 : 1), (byte)(big ? 2 : 1), 1]);
            w.U16(16, 3); // ET_DYN
            w.U16(18, (ushort)(is64 ? 62 : 3));
            w.U32(20, 1);
            w.Native(is64 ? 32 : 28, (ulong)phoff);
            w.Native(is64 ? 40 : 32, withSections ? (ulong)shoff : 0);
            w.U16(is64 ? 52 : 40, (ushort)ehdr);
            w.U16(is64 ? 54 : 42, (ushort)phent);
            w.U16(is64 ? 56 : 44, 2);
            w.U16(is64 ? 58 : 46, (ushort)shent);
            w.U16(is64 ? 60 : 48, (ushort)(withSections ? 3 : 0));

            // PT_LOAD of the whole file, PT_DYNAMIC
            Segment(w, phoff, 1, 0, Base, (ulong)length);
            Segment(w, phoff + phent, 2, (ulong)dynoff, Base + (ulong)dynoff, (ulong)(7 * dynent));

            w.Bytes(stroff, strings);
            Symbol(w, symoff + syment, (uint)counter, 10, 5);
            Symbol(w, symoff + (2 * syment), (uint)plain, 1, 5);
            Symbol(w, symoff + (3 * syment), (uint)local, 10, 5);
            Symbol(w, symoff + (4 * syment), (uint)other, 10, 0);

            // DT_HASH: nbucket 1, nchain 5, bucket 0, chains 0.
            w.U32(hashoff, 1);
            w.U32(hashoff + 4, 5);

            (long Tag, ulong Value)[] dynamic =
            [
                (14, (ulong)soname), (5, Base + (ulong)stroff), (6, Base + (ulong)symoff), (10, (ulong)strings.Length),
                (11, (ulong)syment), (4, Base + (ulong)hashoff), (0, 0),
            ];
            for (int i = 0; i < dynamic.Length; i++)
            {
                w.Native(dynoff + (i * dynent), (ulong)dynamic[i].Tag);
                w.Native(dynoff + (i * dynent) + (dynent / 2), dynamic[i].Value);
            }

            if (withSections)
            {
                Section(w, shoff + shent, 11, (ulong)symoff, (ulong)(5 * syment), 2, (ulong)syment);
                Section(w, shoff + (2 * shent), 3, (ulong)stroff, (ulong)strings.Length, 0, 0);
            }

            return w.Image;
        }

        private static int Align(int value, int to) => (value + to - 1) / to * to;

        private static void Segment(Writer w, int at, uint type, ulong offset, ulong vaddr, ulong size)
        {
            w.U32(at, type);
            if (w.Is64)
            {
                w.U64(at + 8, offset);
                w.U64(at + 16, vaddr);
                w.U64(at + 24, vaddr);
                w.U64(at + 32, size);
                w.U64(at + 40, size);
            }
            else
            {
                w.U32(at + 4, (uint)offset);
                w.U32(at + 8, (uint)vaddr);
                w.U32(at + 12, (uint)vaddr);
                w.U32(at + 16, (uint)size);
                w.U32(at + 20, (uint)size);
            }
        }

        private static void Symbol(Writer w, int at, uint name, byte binding, ushort shndx)
        {
            byte info = (byte)((binding << 4) | 1); // STT_OBJECT
            w.U32(at, name);
            w.Bytes(at + (w.Is64 ? 4 : 12), [info]);
            w.U16(at + (w.Is64 ? 6 : 14), shndx);
        }

        private static void Section(Writer w, int at, uint type, ulong offset, ulong size, uint link, ulong entSize)
        {
            w.U32(at + 4, type);
            w.Native(at + (w.Is64 ? 24 : 16), offset);
            w.Native(at + (w.Is64 ? 32 : 20), size);
            w.U32(at + (w.Is64 ? 40 : 24), link);
            w.Native(at + (w.Is64 ? 56 : 36), entSize);
        }

        private sealed class Writer(byte[] image, bool is64, bool big)
        {
            public byte[] Image { get; } = image;

            public bool Is64 { get; } = is64;

            public void Bytes(int at, byte[] bytes) => bytes.CopyTo(Image, at);

            public void U16(int at, ushort v)
            {
                if (big) { BinaryPrimitives.WriteUInt16BigEndian(Image.AsSpan(at), v); } else { BinaryPrimitives.WriteUInt16LittleEndian(Image.AsSpan(at), v); }
            }

            public void U32(int at, uint v)
            {
                if (big) { BinaryPrimitives.WriteUInt32BigEndian(Image.AsSpan(at), v); } else { BinaryPrimitives.WriteUInt32LittleEndian(Image.AsSpan(at), v); }
            }

            public void U64(int at, ulong v)
            {
                if (big) { BinaryPrimitives.WriteUInt64BigEndian(Image.AsSpan(at), v); } else { BinaryPrimitives.WriteUInt64LittleEndian(Image.AsSpan(at), v); }
            }

            public void Native(int at, ulong v)
            {
                if (Is64) { U64(at, v); } else { U32(at, (uint)v); }
            }
        }
    }
}
