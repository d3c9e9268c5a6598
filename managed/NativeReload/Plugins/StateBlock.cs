using System.Runtime.InteropServices;

namespace NativeReload.Plugins;

/// <summary>
/// The host-owned state block that survives every reload: native memory, 16-byte aligned, zero-filled when created
/// or grown, freed when the library is disposed and no call can reach it any more. Libraries borrow it in
/// <c>nr_load</c> and give it back in <c>nr_unload</c>; the host never interprets its content, it only remembers which
/// layout version last wrote it.
/// </summary>
/// <remarks>
/// <para>This object is the same for the whole life of the library, also when a reload grows the block: growing moves
/// the content to a larger buffer, and <see cref="Data"/> and <see cref="Size"/> follow. A buffer that was replaced is
/// kept until the block is freed, so a host thread that read <see cref="Bytes"/> just before a reload never reads freed
/// memory (it may read the content as it was before the reload).</para>
/// <para>The library that owns the block frees it; the host only reads it. Once freed, <see cref="Bytes"/> throws
/// <see cref="ObjectDisposedException"/> and <see cref="Data"/> is null.</para>
/// </remarks>
public sealed unsafe class StateBlock
{
    /// <summary>Alignment of the block: enough for any scalar or SIMD type a plugin keeps in it.</summary>
    public const int Alignment = 16;

    /// <summary>The largest block a library may ask for (<c>state_size</c>): 2 GiB − 1, the most a span can show.</summary>
    public const ulong MaxSize = int.MaxValue;

    private readonly List<nint> _replaced = [];
    private bool _freed;

    private StateBlock(StateBuffer buffer)
    {
        Buffer = buffer;
    }

    /// <summary>Address of the block (null when its size is 0 or the block was freed).</summary>
    public void* Data => Buffer.Data;

    /// <summary>Size in bytes (0 once freed).</summary>
    public ulong Size => Buffer.Size;

    /// <summary>The <c>state_layout</c> of the generation that last held the block (0: fresh).</summary>
    public uint Layout { get; internal set; }

    /// <summary>True once the owning library freed the block.</summary>
    public bool IsFreed => Volatile.Read(ref _freed);

    /// <summary>A read-only view of the block, for diagnostics and tests.</summary>
    /// <exception cref="ObjectDisposedException">The library that owned the block was disposed and the block freed.</exception>
    public ReadOnlySpan<byte> Bytes
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsFreed, this);
            StateBuffer buffer = Buffer;
            return new ReadOnlySpan<byte>(buffer.Data, (int)buffer.Size); // Size <= MaxSize = int.MaxValue; (null, 0) is empty
        }
    }

    /// <summary>The buffer handed to <c>nr_load</c>/<c>nr_unload</c> now.</summary>
    internal StateBuffer Buffer { get; private set; }

    /// <summary>A new zero-filled block of <paramref name="size"/> bytes.</summary>
    /// <exception cref="OutOfMemoryException">The memory could not be allocated.</exception>
    internal static StateBlock Allocate(ulong size) => new(StateBuffer.Allocate(size));

    /// <summary>
    /// A larger buffer holding this block's content (the rest zero-filled) when <paramref name="size"/> is more than the
    /// block has, else null: the host never shrinks a block. The block itself is unchanged until <see cref="Adopt"/>.
    /// </summary>
    /// <exception cref="OutOfMemoryException">The memory could not be allocated.</exception>
    internal StateBuffer? GrowthFor(ulong size)
    {
        StateBuffer current = Buffer;
        if (size <= current.Size)
        {
            return null;
        }

        StateBuffer grown = StateBuffer.Allocate(size);
        if (current.Data is not null)
        {
            System.Buffer.MemoryCopy(current.Data, grown.Data, size, current.Size);
        }

        return grown;
    }

    /// <summary>Makes <paramref name="grown"/> (from <see cref="GrowthFor"/>) the block's buffer; the old one is kept until <see cref="Free"/>.</summary>
    internal void Adopt(StateBuffer grown)
    {
        if (Buffer.Data is not null)
        {
            _replaced.Add((nint)Buffer.Data);
        }

        Buffer = grown;
    }

    /// <summary>Frees the native memory. Only the owner calls this, when no generation can reach the block any more.</summary>
    internal void Free()
    {
        if (_freed)
        {
            return;
        }

        Volatile.Write(ref _freed, true);
        StateBuffer buffer = Buffer;
        Buffer = default;
        buffer.Free();
        foreach (nint replaced in _replaced)
        {
            NativeMemory.AlignedFree((void*)replaced);
        }
    }

    internal NativeContract.HostState ToHostState(StateBuffer buffer, int loadKind, long generation) => new()
    {
        Data = buffer.Data,
        Size = buffer.Size,
        Layout = Layout,
        LoadKind = loadKind,
        Generation = generation,
    };
}

/// <summary>One allocation of state memory: an address and a size (null and 0 for an empty block).</summary>
internal readonly unsafe struct StateBuffer
{
    private StateBuffer(void* data, ulong size)
    {
        Data = data;
        Size = size;
    }

    public void* Data { get; }

    public ulong Size { get; }

    /// <exception cref="OutOfMemoryException">More than <see cref="StateBlock.MaxSize"/>, or the memory could not be allocated.</exception>
    public static StateBuffer Allocate(ulong size)
    {
        if (size == 0)
        {
            return default;
        }

        if (size > StateBlock.MaxSize)
        {
            // GenerationLoader refuses such a library before any allocation; this is the last line of defence.
            throw new InsufficientMemoryException($"a state block of {size} bytes is more than the {StateBlock.MaxSize} bytes allowed");
        }

        void* data = NativeMemory.AlignedAlloc((nuint)size, StateBlock.Alignment);
        NativeMemory.Clear(data, (nuint)size);
        return new StateBuffer(data, size);
    }

    public void Free()
    {
        if (Data is not null)
        {
            NativeMemory.AlignedFree(Data);
        }
    }
}
