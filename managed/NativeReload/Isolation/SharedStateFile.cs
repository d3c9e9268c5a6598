using Microsoft.Win32.SafeHandles;

namespace NativeReload.Isolation;

/// <summary>
/// The host's side of the plugin contract's state block in shared memory: a file in the host's private shadow
/// directory that the worker maps (<see cref="MappedStateBlock"/>), so what the library wrote survives the worker.
/// Layout: a 64-byte header, then the block itself (64 is a multiple of the block's 16-byte alignment, and a mapping
/// starts on a page boundary).
/// </summary>
/// <remarks>
/// <para>Header: <c>uint64 magic</c> ("NRSTATE1"), <c>uint64 size</c> (bytes of block), <c>uint32 layout</c> (the
/// <c>state_layout</c> of the last generation whose <c>nr_load</c> accepted the block; 0: fresh), <c>uint32 loaded</c>
/// (1 once any <c>nr_load</c> accepted it).</para>
/// <para>The worker, and the library in it, can write every byte of this file, so the host never maps it: it reads and
/// writes it with positioned file I/O (<see cref="RandomAccess"/>), at offsets and sizes from its own records
/// (<see cref="Size"/> is what the host created, never what the header says). A lying header, or even a truncated
/// file, can give the host wrong values, but never make it touch memory outside its own buffers. Before every load the
/// host writes the magic and the size again (<see cref="RestoreHeader"/>), so a worker started after a crash maps a
/// block that is what the host says it is.</para>
/// </remarks>
internal sealed class SharedStateFile : IDisposable
{
    public const int HeaderSize = 64;

    /// <summary>The largest block the host creates: a library that asks for more is refused (its load fails).</summary>
    public const ulong MaxSize = int.MaxValue & ~15UL;

    internal const ulong Magic = 0x31455441_5453524EUL; // "NRSTATE1" little-endian

    private readonly FileStream _stream;
    private readonly SafeFileHandle _file;

    private SharedStateFile(string path, FileStream stream, ulong size)
    {
        Path = path;
        _stream = stream;
        _file = stream.SafeFileHandle; // used only with positioned I/O: the stream's own position is never used
        Size = size;
    }

    public string Path { get; }

    /// <summary>Bytes of block (excluding the header): the host's own record.</summary>
    public ulong Size { get; }

    /// <summary>The <c>state_layout</c> of the generation that last accepted the block (0: fresh). Written by the worker: a value, never a size.</summary>
    public uint Layout => ReadUInt32(16);

    /// <summary>True once a <c>nr_load</c> accepted the block. Written by the worker.</summary>
    public bool EverLoaded => ReadUInt32(20) != 0;

    /// <summary>Creates a zero-filled block of at least <paramref name="size"/> bytes.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is above <see cref="MaxSize"/>.</exception>
    /// <exception cref="IOException">The file could not be created (the message says why).</exception>
    public static SharedStateFile Create(string directory, ulong size)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, MaxSize);
        ulong rounded = (size + 15) & ~15UL;
        string path = System.IO.Path.Combine(directory, $"state.{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8))}.nrstate");
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.ReadWrite | FileShare.Delete,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        var block = new SharedStateFile(path, new FileStream(path, options), rounded);
        try
        {
            _ = block.RestoreHeader(); // writes the first header
        }
        catch
        {
            block.Delete();
            throw;
        }

        return block;
    }

    /// <summary>
    /// Writes the magic and the host's size into the header, and gives the file its length back (zero-filled) if
    /// something cut it: whatever the last worker did to them. The layout and loaded fields are left as they are.
    /// </summary>
    /// <returns>True when something had to be put back (a worker wrote where it must not).</returns>
    public bool RestoreHeader()
    {
        long length = HeaderSize + (long)Size;
        bool changed = false;
        if (RandomAccess.GetLength(_file) != length)
        {
            RandomAccess.SetLength(_file, length);
            changed = true;
        }

        Span<byte> expected = stackalloc byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(expected, Magic);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(expected[8..], Size);
        Span<byte> actual = stackalloc byte[16];
        if (changed || RandomAccess.Read(_file, actual, 0) != 16 || !actual.SequenceEqual(expected))
        {
            RandomAccess.Write(_file, expected, 0);
            return true;
        }

        return false;
    }

    /// <summary>A copy of the block's bytes as they are now: exactly <see cref="Size"/> bytes (zeros where the file ends early).</summary>
    public byte[] Snapshot()
    {
        byte[] bytes = new byte[Size];
        int done = 0;
        while (done < bytes.Length)
        {
            int read = RandomAccess.Read(_file, bytes.AsSpan(done), HeaderSize + done);
            if (read <= 0)
            {
                break;
            }

            done += read;
        }

        return bytes;
    }

    public void Dispose() => _stream.Dispose();

    /// <summary>Closes and deletes the file.</summary>
    public void Delete()
    {
        Dispose();
        try
        {
            File.Delete(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // the shadow directory is removed on dispose anyway
        }
    }

    private uint ReadUInt32(long offset)
    {
        Span<byte> value = stackalloc byte[4];
        return RandomAccess.Read(_file, value, offset) == 4 ? System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(value) : 0;
    }
}
