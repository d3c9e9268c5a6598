using System.Buffers.Binary;

namespace NativeReload.Validation;

/// <summary>
/// Bounds-checked reads from an image. Offsets and sizes are 64-bit and untrusted; every method returns
/// <see langword="false"/> instead of throwing when a read would leave the span, and range ends are computed
/// in 128 bits so that <c>offset + size</c> can never wrap around.
/// </summary>
internal static class ImageBytes
{
    /// <summary>Returns the end of the range <c>[offset, offset + size)</c> without overflow.</summary>
    public static UInt128 End(ulong offset, ulong size) => (UInt128)offset + size;

    /// <summary>Returns the end of a table of <paramref name="count"/> entries of <paramref name="entrySize"/> bytes, without overflow.</summary>
    public static UInt128 TableEnd(ulong offset, ulong count, ulong entrySize) => (UInt128)offset + ((UInt128)count * entrySize);

    /// <summary>Returns whether the range <c>[offset, offset + size)</c> lies within an image of <paramref name="length"/> bytes.</summary>
    public static bool Fits(ulong offset, ulong size, int length) => End(offset, size) <= (ulong)length;

    /// <summary>Reads a 16-bit value at <paramref name="offset"/> in the given byte order.</summary>
    public static bool TryReadUInt16(ReadOnlySpan<byte> image, ulong offset, bool bigEndian, out ushort value)
    {
        if (!Fits(offset, sizeof(ushort), image.Length))
        {
            value = 0;
            return false;
        }

        ReadOnlySpan<byte> bytes = image.Slice((int)offset, sizeof(ushort));
        value = bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(bytes) : BinaryPrimitives.ReadUInt16LittleEndian(bytes);
        return true;
    }

    /// <summary>Reads a 32-bit value at <paramref name="offset"/> in the given byte order.</summary>
    public static bool TryReadUInt32(ReadOnlySpan<byte> image, ulong offset, bool bigEndian, out uint value)
    {
        if (!Fits(offset, sizeof(uint), image.Length))
        {
            value = 0;
            return false;
        }

        ReadOnlySpan<byte> bytes = image.Slice((int)offset, sizeof(uint));
        value = bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt32LittleEndian(bytes);
        return true;
    }

    /// <summary>Reads a 64-bit value at <paramref name="offset"/> in the given byte order.</summary>
    public static bool TryReadUInt64(ReadOnlySpan<byte> image, ulong offset, bool bigEndian, out ulong value)
    {
        if (!Fits(offset, sizeof(ulong), image.Length))
        {
            value = 0;
            return false;
        }

        ReadOnlySpan<byte> bytes = image.Slice((int)offset, sizeof(ulong));
        value = bigEndian ? BinaryPrimitives.ReadUInt64BigEndian(bytes) : BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        return true;
    }

    /// <summary>Reads a 32-bit or 64-bit value (an ELF32/ELF64 word-sized field) widened to 64 bits.</summary>
    public static bool TryReadNative(ReadOnlySpan<byte> image, ulong offset, bool is64, bool bigEndian, out ulong value)
    {
        if (is64)
        {
            return TryReadUInt64(image, offset, bigEndian, out value);
        }

        bool ok = TryReadUInt32(image, offset, bigEndian, out uint narrow);
        value = narrow;
        return ok;
    }

    /// <summary>Formats up to the first four bytes as lower-case hex separated by spaces, e.g. <c>3c 68 74 6d</c>.</summary>
    public static string FirstBytesHex(ReadOnlySpan<byte> image)
    {
        ReadOnlySpan<byte> head = image[..Math.Min(4, image.Length)];
        Span<char> chars = stackalloc char[(4 * 3) - 1];
        int n = 0;
        for (int i = 0; i < head.Length; i++)
        {
            if (i > 0)
            {
                chars[n++] = ' ';
            }

            chars[n++] = HexDigit(head[i] >> 4);
            chars[n++] = HexDigit(head[i] & 0xF);
        }

        return new string(chars[..n]);
    }

    /// <summary>
    /// Reads a fixed-size, NUL-padded ASCII name field (such as a Mach-O segment name) for use in a reason string.
    /// Non-printable bytes are shown as <c>?</c>.
    /// </summary>
    public static string ReadFixedName(ReadOnlySpan<byte> image, ulong offset, int maxLength)
    {
        if (!Fits(offset, (ulong)maxLength, image.Length))
        {
            return "?";
        }

        ReadOnlySpan<byte> field = image.Slice((int)offset, maxLength);
        int terminator = field.IndexOf((byte)0);
        if (terminator >= 0)
        {
            field = field[..terminator];
        }

        Span<char> chars = stackalloc char[field.Length];
        for (int i = 0; i < field.Length; i++)
        {
            byte b = field[i];
            chars[i] = b is >= 0x20 and < 0x7F ? (char)b : '?';
        }

        return new string(chars);
    }

    private static char HexDigit(int nibble) => (char)(nibble < 10 ? '0' + nibble : 'a' + nibble - 10);
}
