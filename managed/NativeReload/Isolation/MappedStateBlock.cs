using System.IO.MemoryMappedFiles;

namespace NativeReload.Isolation;

/// <summary>
/// The worker's side of the state block (<see cref="SharedStateFile"/> describes the file): mapped shared, so the
/// library writes straight into the host's file. Its size is the file's length when it was opened, not the header's
/// size field, which the library can overwrite.
/// </summary>
internal sealed unsafe class MappedStateBlock : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _base;

    private MappedStateBlock(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, ulong size)
    {
        Path = path;
        _map = map;
        _view = view;
        Size = size;
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _base = pointer + view.PointerOffset;
    }

    public string Path { get; }

    /// <summary>Bytes of block (excluding the header), fixed when it was mapped.</summary>
    public ulong Size { get; }

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
    public void* Data => _base + SharedStateFile.HeaderSize;

    /// <summary>Maps a block the host created; the host wrote its magic and size just before offering it.</summary>
    /// <exception cref="InvalidDataException">The file is not a state block the host prepared.</exception>
    public static MappedStateBlock Open(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        long length = stream.Length;
        if (length < SharedStateFile.HeaderSize + 16)
        {
            stream.Dispose();
            throw new InvalidDataException($"{path} is not a NativeReload state block ({length} bytes)");
        }

        MemoryMappedFile map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
        MemoryMappedViewAccessor view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.ReadWrite);
        var block = new MappedStateBlock(path, map, view, (ulong)(length - SharedStateFile.HeaderSize));
        if (((ulong*)block._base)[0] != SharedStateFile.Magic)
        {
            block.Dispose();
            throw new InvalidDataException($"{path} is not a NativeReload state block");
        }

        return block;
    }

    /// <summary>Copies <paramref name="source"/>'s block and layout into this bigger one (growth).</summary>
    public void CopyFrom(MappedStateBlock source)
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

    internal Plugins.NativeContract.HostState ToHostState(int loadKind, long generation) => new()
    {
        Data = Data,
        Size = Size,
        Layout = Layout,
        LoadKind = loadKind,
        Generation = generation,
    };
}
