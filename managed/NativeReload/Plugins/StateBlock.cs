using System.Runtime.InteropServices;

namespace NativeReload.Plugins;

/// <summary>
/// The host-owned state block that survives every reload: native memory, 16-byte aligned, zero-filled when created
/// or grown, freed when the library is disposed. Libraries borrow it in <c>nr_load</c> and give it back in
/// <c>nr_unload</c>; the host never interprets its content, it only remembers which layout version last wrote it.
/// </summary>
public sealed unsafe class StateBlock : IDisposable
{
    /// <summary>Alignment of the block: enough for any scalar or SIMD type a plugin keeps in it.</summary>
    public const int Alignment = 16;

    private StateBlock(void* data, ulong size, uint layout)
    {
        Data = data;
        Size = size;
        Layout = layout;
    }

    /// <summary>Address of the block (null when its size is 0).</summary>
    public void* Data { get; private set; }

    /// <summary>Size in bytes.</summary>
    public ulong Size { get; private set; }

    /// <summary>The <c>state_layout</c> of the generation that last held the block (0: fresh).</summary>
    public uint Layout { get; internal set; }

    /// <summary>A read-only view of the block, for diagnostics and tests.</summary>
    public ReadOnlySpan<byte> Bytes => Data is null ? default : new ReadOnlySpan<byte>(Data, checked((int)Size));

    /// <summary>A new zero-filled block of <paramref name="size"/> bytes.</summary>
    internal static StateBlock Allocate(ulong size) => new(AllocateZeroed(size), size, 0);

    /// <summary>
    /// A block of at least <paramref name="size"/> bytes holding this block's content (the rest zero-filled), or
    /// this very block when it is big enough. The host never shrinks a block: a smaller request keeps the data.
    /// </summary>
    internal StateBlock GrownTo(ulong size)
    {
        if (size <= Size)
        {
            return this;
        }

        void* data = AllocateZeroed(size);
        if (Data is not null)
        {
            Buffer.MemoryCopy(Data, data, size, Size);
        }

        return new StateBlock(data, size, Layout);
    }

    /// <summary>Frees the native memory.</summary>
    public void Dispose()
    {
        if (Data is not null)
        {
            NativeMemory.AlignedFree(Data);
            Data = null;
            Size = 0;
        }
    }

    internal NativeContract.HostState ToHostState(int loadKind, long generation) => new()
    {
        Data = Data,
        Size = Size,
        Layout = Layout,
        LoadKind = loadKind,
        Generation = generation,
    };

    private static void* AllocateZeroed(ulong size)
    {
        if (size == 0)
        {
            return null;
        }

        if (size > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "a state block is limited to 2 GiB");
        }

        void* data = NativeMemory.AlignedAlloc((nuint)size, Alignment);
        NativeMemory.Clear(data, (nuint)size);
        return data;
    }
}
