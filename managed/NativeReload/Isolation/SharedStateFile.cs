using System.IO.MemoryMappedFiles;

namespace NativeReload.Isolation;

/// <summary>
/// The plugin contract's state block in shared memory: a file in the host's private shadow directory, mapped by the
/// host and by the worker (<c>MAP_SHARED</c> / a Windows file mapping), so what the library wrote survives the worker.
/// Layout: a 64-byte header, then the block itself (64 is a multiple of the block's 16-byte alignment, and a mapping
/// starts on a page boundary).
/// </summary>
/// <remarks>
/// Header: <c>uint64 magic</c> ("NRSTATE1"), <c>uint64 size</c> (bytes of block), <c>uint32 layout</c> (the
/// <c>state_layout</c> of the last generation whose <c>nr_load</c> accepted the block; 0: fresh), <c>uint32 loaded</c>
/// (1 once any <c>nr_load</c> accepted it). The worker writes <c>layout</c> and <c>loaded</c>; the host only reads them.
/// </remarks>
internal sealed unsafe class SharedStateFile : IDisposable
{
    public const int HeaderSize = 64;
    private const ulong Magic = 0x31455441_5453524EUL; // "NRSTATE1" little-endian

    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _base;

    private SharedStateFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view)
    {
        Path = path;
        _map = map;
        _view = view;
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _base = pointer + view.PointerOffset;
    }

    public string Path { get; }

    /// <summary>Bytes of block (excluding the header).</summary>
    public ulong Size => ((ulong*)_base)[1];

    /// <summary>The <c>state_layout</c> of the generation that last accepted the block (0: fresh).</summary>
    public uint Layout
    {
        get => Volatile.Read(ref ((uint*)_base)[4]);
        set => Volatile.Write(ref ((uint*)_base)[4], value);
    }

    /// <summary>True once a <c>nr_load</c> accepted the block.</summary>
    public bool EverLoaded
    {
        get => Volatile.Read(ref ((uint*)_base)[5]) != 0;
        set => Volatile.Write(ref ((uint*)_base)[5], value ? 1u : 0u);
    }

    /// <summary>The block's address in this process.</summary>
    public void* Data => _base + HeaderSize;

    public ReadOnlySpan<byte> Bytes => new(Data, checked((int)Size));

    /// <summary>Creates a zero-filled block of at least <paramref name="size"/> bytes (host side).</summary>
    public static SharedStateFile Create(string directory, ulong size)
    {
        if (size > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "a state block is limited to 2 GiB");
        }

        ulong rounded = (size + 15) & ~15UL;
        string path = System.IO.Path.Combine(directory, $"state.{Convert.ToHexStringLower(RandomBytes())}.nrstate");
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

        var stream = new FileStream(path, options);
        stream.SetLength(HeaderSize + (long)rounded); // zero-filled
        SharedStateFile file = Map(path, stream);
        ((ulong*)file._base)[0] = Magic;
        ((ulong*)file._base)[1] = rounded;
        return file;
    }

    /// <summary>Maps a block the host created (worker side).</summary>
    public static SharedStateFile Open(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        SharedStateFile file = Map(path, stream);
        if (((ulong*)file._base)[0] != Magic)
        {
            file.Dispose();
            throw new InvalidDataException($"{path} is not a NativeReload state block");
        }

        return file;
    }

    /// <summary>Copies <paramref name="source"/>'s block and layout into this bigger one (growth).</summary>
    public void CopyFrom(SharedStateFile source)
    {
        Buffer.MemoryCopy(source.Data, Data, Size, Math.Min(Size, source.Size));
        Layout = source.Layout;
        EverLoaded = source.EverLoaded;
    }

    public void Dispose()
    {
        if (_base is not null)
        {
            _base = null;
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _map.Dispose();
        }
    }

    /// <summary>Disposes and deletes the file (host side).</summary>
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

    private static SharedStateFile Map(string path, FileStream stream)
    {
        MemoryMappedFile map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
        MemoryMappedViewAccessor view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.ReadWrite);
        return new SharedStateFile(path, map, view);
    }

    private static byte[] RandomBytes() => System.Security.Cryptography.RandomNumberGenerator.GetBytes(8);

    internal Plugins.NativeContract.HostState ToHostState(int loadKind, long generation) => new()
    {
        Data = Data,
        Size = Size,
        Layout = Layout,
        LoadKind = loadKind,
        Generation = generation,
    };
}
