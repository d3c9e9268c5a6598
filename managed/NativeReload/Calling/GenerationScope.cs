using System.Runtime.CompilerServices;
using NativeReload.Loading;

namespace NativeReload.Calling;

/// <summary>
/// A call window pinned to one generation: while the scope is open, that generation is not freed, even if a
/// reload makes another generation current. Obtain it with
/// <see cref="Reloading.ReloadableLibrary{TExports}.Enter()"/> and dispose it (a <c>using</c> statement) when the calls return.
/// </summary>
/// <typeparam name="TExports">The host's export table type.</typeparam>
/// <remarks>
/// <para><b>Safety:</b> function pointers read from <see cref="Exports"/> are valid until the scope is disposed;
/// do not keep them. Strings and buffers returned by native code belong to the generation: copy them
/// (<see cref="NativeUtf8.Decode"/>) before disposing the scope.</para>
/// <para><b>Thread-safety:</b> a scope belongs to the thread that opened it and must be disposed on that thread,
/// in reverse order of opening (a <c>using</c> statement does this).</para>
/// </remarks>
public readonly ref struct GenerationScope<TExports>
    where TExports : class
{
    private readonly ref long _entry;
    private readonly CallerSlot _slot;
    private readonly int _depth;
    private readonly long _value;

    internal GenerationScope(ref long entry, CallerSlot slot, int depth, long value, LibraryGeneration<TExports> generation)
    {
        _value = value;
        _entry = ref entry;
        _slot = slot;
        _depth = depth;
        Generation = generation;
    }

    /// <summary>The generation every call in this scope goes to.</summary>
    public LibraryGeneration<TExports> Generation { get; }

    /// <summary>The exports of <see cref="Generation"/>.</summary>
    public TExports Exports
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Generation.Exports;
    }

    /// <summary>Ends the scope: the generation may be freed once no other scope holds it.</summary>
    /// <remarks>A second <c>Dispose</c> of the same scope does nothing: it must not end whichever scope opened at the same
    /// depth since (that would let a reload free code the newer scope is running).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Dispose()
    {
        if (_slot is null || _slot.Depth != _depth + 1 || _entry != _value)
        {
            return; // already disposed (or disposed out of order): this depth is not ours any more
        }

        Volatile.Write(ref _entry, 0);
        _slot.Depth = _depth;
    }
}
