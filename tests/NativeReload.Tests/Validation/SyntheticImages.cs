using System.Buffers.Binary;
using System.Text;

namespace NativeReload.Tests.Validation;

/// <summary>
/// Builds minimal but structurally complete ELF, PE and Mach-O library images, and patches their fields, so that
/// every platform's rules can be tested on any OS. Each full image declares content up to its very last byte
/// (ELF section headers, PE certificate table, Mach-O code signature, last universal slice), so every strict
/// prefix of it is incomplete.
/// </summary>
internal static class SyntheticImages
{
    public const ushort EmX8664 = 62;
    public const ushort EmAarch64 = 183;
    public const ushort Em386 = 3;
    public const ushort EmArm = 40;
    public const ushort EmS390 = 22;
    public const ushort EtRel = 1;
    public const ushort EtExec = 2;
    public const ushort EtDyn = 3;

    public const ushort PeAmd64 = 0x8664;
    public const ushort PeArm64 = 0xAA64;
    public const ushort PeI386 = 0x14C;
    public const ushort PeArmNT = 0x1C4;
    public const ushort PeDllCharacteristics = 0x2022; // EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE | DLL
    public const ushort PeExeCharacteristics = 0x0022;

    public const uint CpuX8664 = 0x01000007;
    public const uint CpuArm64 = 0x0100000C;
    public const uint CpuI386 = 7;
    public const uint CpuArm = 12;
    public const uint MhExecute = 2;
    public const uint MhDylib = 6;
    public const uint MhBundle = 8;

    private const uint ShtProgBits = 1;
    private const uint ShtStrTab = 3;
    private const uint ShtNoBits = 8;

    // ---------------------------------------------------------------- ELF

    /// <summary>
    /// An ELF shared object: header, PT_LOAD + PT_GNU_STACK program headers, .text, .shstrtab, a .bss (NOBITS,
    /// with an offset far beyond the file, which must be ignored) and the section header table at the end.
    /// </summary>
    public static byte[] Elf(bool is64 = true, ushort machine = EmX8664, ushort type = EtDyn, bool bigEndian = false)
    {
        var w = new ElfWriter(is64, bigEndian);
        int headerSize = is64 ? 64 : 52;
        int phentsize = is64 ? 56 : 32;
        int shentsize = is64 ? 64 : 40;
        const int PhCount = 2;
        const int ShCount = 4;
        byte[] shstrtab = Encoding.ASCII.GetBytes("\0.text\0.shstrtab\0.bss\0");
        int phoff = headerSize;
        int textOffset = phoff + (PhCount * phentsize);
        const int TextSize = 32;
        int strOffset = textOffset + TextSize;
        int dataEnd = strOffset + shstrtab.Length;
        int shoff = Align(dataEnd, is64 ? 8 : 4);
        byte[] image = new byte[shoff + (ShCount * shentsize)];

        image[0] = 0x7F;
        image[1] = (byte)'E';
        image[2] = (byte)'L';
        image[3] = (byte)'F';
        image[4] = (byte)(is64 ? 2 : 1);
        image[5] = (byte)(bigEndian ? 2 : 1);
        image[6] = 1;
        w.U16(image, 16, type);
        w.U16(image, 18, machine);
        w.U32(image, 20, 1);
        if (is64)
        {
            w.U64(image, 32, (ulong)phoff);
            w.U64(image, 40, (ulong)shoff);
            w.U16(image, 52, (ushort)headerSize);
            w.U16(image, 54, (ushort)phentsize);
            w.U16(image, 56, PhCount);
            w.U16(image, 58, (ushort)shentsize);
            w.U16(image, 60, ShCount);
            w.U16(image, 62, 2);
        }
        else
        {
            w.U32(image, 28, (uint)phoff);
            w.U32(image, 32, (uint)shoff);
            w.U16(image, 40, (ushort)headerSize);
            w.U16(image, 42, (ushort)phentsize);
            w.U16(image, 44, PhCount);
            w.U16(image, 46, (ushort)shentsize);
            w.U16(image, 48, ShCount);
            w.U16(image, 50, 2);
        }

        // PT_LOAD covering the header and all section contents; PT_GNU_STACK with no file content.
        WriteSegment(w, image, phoff, type: 1, offset: 0, fileSize: (ulong)dataEnd);
        WriteSegment(w, image, phoff + phentsize, type: 0x6474E551, offset: 0, fileSize: 0);

        image.AsSpan(textOffset, TextSize).Fill(0xC3);
        shstrtab.CopyTo(image, strOffset);

        WriteSection(w, image, shoff + shentsize, name: 1, type: ShtProgBits, offset: (ulong)textOffset, size: TextSize);
        WriteSection(w, image, shoff + (2 * shentsize), name: 7, type: ShtStrTab, offset: (ulong)strOffset, size: (ulong)shstrtab.Length);
        WriteSection(w, image, shoff + (3 * shentsize), name: 17, type: ShtNoBits, offset: 0x100000, size: 0x1000);
        return image;
    }

    public static void ElfSetType(byte[] image, ushort type) => Elf(image).U16(image, 16, type);

    public static void ElfSetMachine(byte[] image, ushort machine) => Elf(image).U16(image, 18, machine);

    public static void ElfSetSectionHeaderOffset(byte[] image, ulong offset) => Elf(image).Native(image, Elf(image).Is64 ? 40 : 32, offset);

    public static void ElfSetSectionCount(byte[] image, ushort count) => Elf(image).U16(image, Elf(image).Is64 ? 60 : 48, count);

    public static void ElfSetProgramHeaderOffset(byte[] image, ulong offset) => Elf(image).Native(image, Elf(image).Is64 ? 32 : 28, offset);

    public static void ElfSetProgramHeaderCount(byte[] image, ushort count) => Elf(image).U16(image, Elf(image).Is64 ? 56 : 44, count);

    public static void ElfSetProgramHeaderEntrySize(byte[] image, ushort size) => Elf(image).U16(image, Elf(image).Is64 ? 54 : 42, size);

    /// <summary>Rewrites program header <paramref name="index"/> (0 is the PT_LOAD).</summary>
    public static void ElfSetSegment(byte[] image, int index, uint? type = null, ulong? offset = null, ulong? fileSize = null)
    {
        ElfWriter w = Elf(image);
        int entry = checked((int)w.ReadNative(image, w.Is64 ? 32 : 28) + (index * (w.Is64 ? 56 : 32)));
        if (type is { } t)
        {
            w.U32(image, entry, t);
        }

        if (offset is { } o)
        {
            w.Native(image, entry + (w.Is64 ? 8 : 4), o);
        }

        if (fileSize is { } s)
        {
            w.Native(image, entry + (w.Is64 ? 32 : 16), s);
        }
    }

    /// <summary>Rewrites section header <paramref name="index"/> (1 .text, 2 .shstrtab, 3 .bss).</summary>
    public static void ElfSetSection(byte[] image, int index, uint? type = null, ulong? offset = null, ulong? size = null)
    {
        ElfWriter w = Elf(image);
        int entry = checked((int)w.ReadNative(image, w.Is64 ? 40 : 32) + (index * (w.Is64 ? 64 : 40)));
        if (type is { } t)
        {
            w.U32(image, entry + 4, t);
        }

        if (offset is { } o)
        {
            w.Native(image, entry + (w.Is64 ? 24 : 16), o);
        }

        if (size is { } s)
        {
            w.Native(image, entry + (w.Is64 ? 32 : 20), s);
        }
    }

    // ---------------------------------------------------------------- PE

    /// <summary>
    /// A PE DLL: DOS header (e_lfanew 64), PE signature, COFF header, PE32+ or PE32 optional header with 16 data
    /// directories, two sections with raw data at 0x200 and 0x400, and a certificate table at 0x600 ending the file.
    /// </summary>
    public static byte[] Pe(ushort machine = PeAmd64, bool pe32Plus = true, ushort characteristics = PeDllCharacteristics)
    {
        const int Lfanew = 64;
        const int Coff = Lfanew + 4;
        const int Optional = Coff + 20;
        int optionalSize = pe32Plus ? 240 : 224;
        int sectionTable = Optional + optionalSize;
        const int CertOffset = 0x600;
        const int CertSize = 0x40;
        byte[] image = new byte[CertOffset + CertSize];
        image[0] = (byte)'M';
        image[1] = (byte)'Z';
        LE32(image, 0x3C, Lfanew);
        "PE\0\0"u8.CopyTo(image.AsSpan(Lfanew));
        LE16(image, Coff, machine);
        LE16(image, Coff + 2, 2);
        LE16(image, Coff + 16, (ushort)optionalSize);
        LE16(image, Coff + 18, characteristics);
        LE16(image, Optional, pe32Plus ? (ushort)0x20B : (ushort)0x10B);
        int directories = Optional + (pe32Plus ? 112 : 96);
        LE32(image, directories - 4, 16);
        LE32(image, directories + (4 * 8), CertOffset);
        LE32(image, directories + (4 * 8) + 4, CertSize);
        WritePeSection(image, sectionTable, ".text", rawPointer: 0x200, rawSize: 0x200);
        WritePeSection(image, sectionTable + 40, ".rdata", rawPointer: 0x400, rawSize: 0x200);
        image.AsSpan(0x200, 0x400).Fill(0xCC);
        return image;
    }

    public static int PeLfanew(byte[] image) => BinaryPrimitives.ReadInt32LittleEndian(image.AsSpan(0x3C));

    public static void PeSetLfanew(byte[] image, uint lfanew) => BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(0x3C), lfanew);

    public static void PeSetMachine(byte[] image, ushort machine) => LE16(image, PeLfanew(image) + 4, machine);

    public static void PeSetSectionCount(byte[] image, ushort count) => LE16(image, PeLfanew(image) + 6, count);

    public static void PeSetCharacteristics(byte[] image, ushort value) => LE16(image, PeLfanew(image) + 22, value);

    public static void PeSetOptionalMagic(byte[] image, ushort magic) => LE16(image, PeLfanew(image) + 24, magic);

    public static void PeSetSection(byte[] image, int index, uint rawPointer, uint rawSize)
    {
        int entry = PeSectionTable(image) + (index * 40);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(entry + 16), rawSize);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(entry + 20), rawPointer);
    }

    public static void PeSetCertificate(byte[] image, uint offset, uint size)
    {
        int optional = PeLfanew(image) + 24;
        bool plus = BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(optional)) == 0x20B;
        int entry = optional + (plus ? 112 : 96) + (4 * 8);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(entry), offset);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(entry + 4), size);
    }

    private static int PeSectionTable(byte[] image)
    {
        int coff = PeLfanew(image) + 4;
        return coff + 20 + BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(coff + 16));
    }

    // ---------------------------------------------------------------- Mach-O

    /// <summary>
    /// A little-endian Mach-O image: header, __TEXT (file 0..0x100) and __LINKEDIT (0x100..0x140) segments, and an
    /// LC_CODE_SIGNATURE at 0x140..0x160 that ends the file.
    /// </summary>
    public static byte[] MachO(uint cpuType = CpuX8664, bool is64 = true, uint fileType = MhDylib, uint cpuSubtype = 3)
    {
        int headerSize = is64 ? 32 : 28;
        int segmentSize = is64 ? 72 : 56;
        const int SignatureCommandSize = 16;
        int commandsSize = (2 * segmentSize) + SignatureCommandSize;
        byte[] image = new byte[0x160];
        LE32(image, 0, is64 ? 0xFEEDFACF : 0xFEEDFACE);
        LE32(image, 4, cpuType);
        LE32(image, 8, cpuSubtype);
        LE32(image, 12, fileType);
        LE32(image, 16, 3);
        LE32(image, 20, (uint)commandsSize);
        LE32(image, 24, 0x00100085);
        int position = headerSize;
        WriteMachOSegment(image, position, is64, "__TEXT", fileOffset: 0, fileSize: 0x100);
        position += segmentSize;
        WriteMachOSegment(image, position, is64, "__LINKEDIT", fileOffset: 0x100, fileSize: 0x40);
        position += segmentSize;
        LE32(image, position, 0x1D);
        LE32(image, position + 4, SignatureCommandSize);
        LE32(image, position + 8, 0x140);
        LE32(image, position + 12, 0x20);
        image.AsSpan(0x140, 0x20).Fill(0xFA);
        return image;
    }

    public static void MachOSetFileType(byte[] image, uint fileType) => LE32(image, 12, fileType);

    public static void MachOSetCommandCount(byte[] image, uint count) => LE32(image, 16, count);

    public static void MachOSetCommandsSize(byte[] image, uint size) => LE32(image, 20, size);

    /// <summary>Sets the cmdsize of load command <paramref name="index"/>.</summary>
    public static void MachOSetCommandSize(byte[] image, int index, uint size) => LE32(image, MachOCommand(image, index) + 4, size);

    /// <summary>Sets the file range of segment command <paramref name="index"/> (0 __TEXT, 1 __LINKEDIT).</summary>
    public static void MachOSetSegment(byte[] image, int index, ulong fileOffset, ulong fileSize)
    {
        int command = MachOCommand(image, index);
        if (Is64MachO(image))
        {
            BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(command + 40), fileOffset);
            BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(command + 48), fileSize);
        }
        else
        {
            LE32(image, command + 32, checked((uint)fileOffset));
            LE32(image, command + 36, checked((uint)fileSize));
        }
    }

    public static void MachOSetCodeSignature(byte[] image, uint dataOffset, uint dataSize)
    {
        int command = MachOCommand(image, 2);
        LE32(image, command + 8, dataOffset);
        LE32(image, command + 12, dataSize);
    }

    // ---------------------------------------------------------------- universal

    /// <summary>A universal binary holding <paramref name="slices"/> (CPU types taken from their headers), 0x100-aligned.</summary>
    public static byte[] Universal(bool fat64, params byte[][] slices)
    {
        int entrySize = fat64 ? 32 : 20;
        int offset = Align(8 + (slices.Length * entrySize), 0x100);
        int[] offsets = new int[slices.Length];
        for (int i = 0; i < slices.Length; i++)
        {
            offsets[i] = offset;
            offset = i == slices.Length - 1 ? offset + slices[i].Length : Align(offset + slices[i].Length, 0x100);
        }

        byte[] image = new byte[offset];
        BE32(image, 0, fat64 ? 0xCAFEBABF : 0xCAFEBABE);
        BE32(image, 4, (uint)slices.Length);
        for (int i = 0; i < slices.Length; i++)
        {
            int entry = 8 + (i * entrySize);
            BE32(image, entry, BinaryPrimitives.ReadUInt32LittleEndian(slices[i].AsSpan(4)));
            BE32(image, entry + 4, BinaryPrimitives.ReadUInt32LittleEndian(slices[i].AsSpan(8)));
            if (fat64)
            {
                BinaryPrimitives.WriteUInt64BigEndian(image.AsSpan(entry + 8), (ulong)offsets[i]);
                BinaryPrimitives.WriteUInt64BigEndian(image.AsSpan(entry + 16), (ulong)slices[i].Length);
                BE32(image, entry + 24, 8);
            }
            else
            {
                BE32(image, entry + 8, (uint)offsets[i]);
                BE32(image, entry + 12, (uint)slices[i].Length);
                BE32(image, entry + 16, 8);
            }

            slices[i].CopyTo(image, offsets[i]);
        }

        return image;
    }

    public static void UniversalSetCount(byte[] image, uint count) => BE32(image, 4, count);

    public static void UniversalSetSlice(byte[] image, int index, ulong offset, ulong size)
    {
        bool fat64 = BinaryPrimitives.ReadUInt32BigEndian(image) == 0xCAFEBABF;
        int entry = 8 + (index * (fat64 ? 32 : 20));
        if (fat64)
        {
            BinaryPrimitives.WriteUInt64BigEndian(image.AsSpan(entry + 8), offset);
            BinaryPrimitives.WriteUInt64BigEndian(image.AsSpan(entry + 16), size);
        }
        else
        {
            BE32(image, entry + 8, checked((uint)offset));
            BE32(image, entry + 12, checked((uint)size));
        }
    }

    /// <summary>The file offset of the slice at <paramref name="index"/>.</summary>
    public static int UniversalSliceOffset(byte[] image, int index)
    {
        bool fat64 = BinaryPrimitives.ReadUInt32BigEndian(image) == 0xCAFEBABF;
        int entry = 8 + (index * (fat64 ? 32 : 20));
        return fat64
            ? checked((int)BinaryPrimitives.ReadUInt64BigEndian(image.AsSpan(entry + 8)))
            : checked((int)BinaryPrimitives.ReadUInt32BigEndian(image.AsSpan(entry + 8)));
    }

    // ---------------------------------------------------------------- helpers

    private static int Align(int value, int alignment) => (value + alignment - 1) / alignment * alignment;

    private static void LE16(byte[] image, int offset, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(offset), value);

    private static void LE32(byte[] image, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(offset), value);

    private static void LE32(byte[] image, int offset, int value) => BinaryPrimitives.WriteInt32LittleEndian(image.AsSpan(offset), value);

    private static void BE32(byte[] image, int offset, uint value) => BinaryPrimitives.WriteUInt32BigEndian(image.AsSpan(offset), value);

    private static ElfWriter Elf(byte[] image) => new(image[4] == 2, image[5] == 2);

    private static void WriteSegment(ElfWriter w, byte[] image, int entry, uint type, ulong offset, ulong fileSize)
    {
        w.U32(image, entry, type);
        if (w.Is64)
        {
            w.U32(image, entry + 4, 5);
            w.U64(image, entry + 8, offset);
            w.U64(image, entry + 32, fileSize);
            w.U64(image, entry + 40, fileSize);
            w.U64(image, entry + 48, 0x1000);
        }
        else
        {
            w.U32(image, entry + 4, (uint)offset);
            w.U32(image, entry + 16, (uint)fileSize);
            w.U32(image, entry + 20, (uint)fileSize);
            w.U32(image, entry + 24, 5);
            w.U32(image, entry + 28, 0x1000);
        }
    }

    private static void WriteSection(ElfWriter w, byte[] image, int entry, uint name, uint type, ulong offset, ulong size)
    {
        w.U32(image, entry, name);
        w.U32(image, entry + 4, type);
        w.Native(image, entry + (w.Is64 ? 24 : 16), offset);
        w.Native(image, entry + (w.Is64 ? 32 : 20), size);
    }

    private static void WritePeSection(byte[] image, int entry, string name, uint rawPointer, uint rawSize)
    {
        Encoding.ASCII.GetBytes(name).CopyTo(image, entry);
        LE32(image, entry + 8, rawSize);
        LE32(image, entry + 12, rawPointer + 0x800);
        LE32(image, entry + 16, rawSize);
        LE32(image, entry + 20, rawPointer);
    }

    private static void WriteMachOSegment(byte[] image, int position, bool is64, string name, uint fileOffset, uint fileSize)
    {
        LE32(image, position, is64 ? 0x19u : 0x1u);
        LE32(image, position + 4, is64 ? 72u : 56u);
        Encoding.ASCII.GetBytes(name).CopyTo(image, position + 8);
        if (is64)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(position + 40), fileOffset);
            BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(position + 48), fileSize);
        }
        else
        {
            LE32(image, position + 32, fileOffset);
            LE32(image, position + 36, fileSize);
        }
    }

    private static bool Is64MachO(byte[] image) => BinaryPrimitives.ReadUInt32LittleEndian(image) == 0xFEEDFACF;

    private static int MachOCommand(byte[] image, int index)
    {
        int position = Is64MachO(image) ? 32 : 28;
        for (int i = 0; i < index; i++)
        {
            position += checked((int)BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(position + 4)));
        }

        return position;
    }

    /// <summary>Writes ELF fields in the image's class and byte order.</summary>
    private readonly record struct ElfWriter(bool Is64, bool BigEndian)
    {
        public void U16(byte[] image, int offset, ushort value)
        {
            if (BigEndian)
            {
                BinaryPrimitives.WriteUInt16BigEndian(image.AsSpan(offset), value);
            }
            else
            {
                BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(offset), value);
            }
        }

        public void U32(byte[] image, int offset, uint value)
        {
            if (BigEndian)
            {
                BinaryPrimitives.WriteUInt32BigEndian(image.AsSpan(offset), value);
            }
            else
            {
                BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(offset), value);
            }
        }

        public void U64(byte[] image, int offset, ulong value)
        {
            if (BigEndian)
            {
                BinaryPrimitives.WriteUInt64BigEndian(image.AsSpan(offset), value);
            }
            else
            {
                BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(offset), value);
            }
        }

        /// <summary>Writes a word-sized field; on ELF32 the value must fit in 32 bits (overflow tests use ELF64).</summary>
        public void Native(byte[] image, int offset, ulong value)
        {
            if (Is64)
            {
                U64(image, offset, value);
            }
            else
            {
                U32(image, offset, checked((uint)value));
            }
        }

        public ulong ReadNative(byte[] image, int offset)
        {
            ReadOnlySpan<byte> s = image.AsSpan(offset);
            return (Is64, BigEndian) switch
            {
                (true, true) => BinaryPrimitives.ReadUInt64BigEndian(s),
                (true, false) => BinaryPrimitives.ReadUInt64LittleEndian(s),
                (false, true) => BinaryPrimitives.ReadUInt32BigEndian(s),
                (false, false) => BinaryPrimitives.ReadUInt32LittleEndian(s),
            };
        }
    }
}
