using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NativeReload.Loading;

namespace NativeReload.Calling;

/// <summary>
/// A thread's slot in the concurrent calling model: the generations that thread is calling into (see
/// <see cref="ReaderSlots"/>). <see cref="Reloading.ReloadableLibrary{TExports}.Enter()"/> finds the calling thread's
/// slot in thread-local storage on every call, which costs about 2 ns; a hot loop on one thread can fetch its slot once
/// with <see cref="ForCurrentThread"/> and pass it to <see cref="Reloading.ReloadableLibrary{TExports}.Enter(CallerSlot)"/>.
/// </summary>
/// <remarks>
/// <b>Safety:</b> a slot belongs to the thread that fetched it. Pass it to <c>Enter</c> only on that thread (keep it in
/// a local of the thread's loop, not in a shared field): another thread's slot would record your call in the wrong
/// place and let a reload free code you are running. Debug builds of the library check this.
/// </remarks>
public sealed class CallerSlot
{
    internal CallerSlot()
    {
        OwnerThreadId = Environment.CurrentManagedThreadId;
    }

    /// <summary>The managed thread the slot belongs to.</summary>
    public int OwnerThreadId { get; }

    /// <summary><see cref="LibraryGeneration.UniqueId"/> of the generation entered at each depth; 0 when free.</summary>
    internal long[] Ids { get; } = new long[ReaderSlots.MaxDepth];

    /// <summary>How many scopes are open on the thread.</summary>
    internal int Depth { get; set; }

    /// <summary>The calling thread's slot (created on first use).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static CallerSlot ForCurrentThread() => ReaderSlots.Current();

    /// <summary>The entry at <paramref name="depth"/>, without a bounds check (the caller checked it against <see cref="ReaderSlots.MaxDepth"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref long At(int depth) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Ids), depth);
}
