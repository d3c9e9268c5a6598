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

    /// <summary>
    /// What each depth holds: <see cref="LibraryGeneration.UniqueId"/> of the generation entered there, shifted left by
    /// <see cref="TicketBits"/>, plus the ticket of the scope that entered it; 0 when free. The ticket tells a scope's own
    /// entry from a later scope's at the same depth on the same generation, so a scope disposed twice cannot end another.
    /// </summary>
    internal long[] Ids { get; } = new long[ReaderSlots.MaxDepth];

    /// <summary>Bits of an entry that hold the scope's ticket.</summary>
    internal const int TicketBits = 16;

    /// <summary>Counts the scopes opened on this thread (wrapping), so each entry is told apart from the next.</summary>
    internal ushort Ticket { get; set; }

    /// <summary>The entry value a new scope on <paramref name="generation"/> writes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal long EntryFor(LibraryGeneration generation) => (generation.UniqueId << TicketBits) | Ticket;

    /// <summary>The generation id an entry names (0 when free).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long GenerationOf(long entry) => entry >> TicketBits;

    /// <summary>How many scopes are open on the thread.</summary>
    internal int Depth { get; set; }

    /// <summary>The calling thread's slot (created on first use).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static CallerSlot ForCurrentThread() => ReaderSlots.Current();

    /// <summary>The entry at <paramref name="depth"/>, without a bounds check (the caller checked it against <see cref="ReaderSlots.MaxDepth"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref long At(int depth) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Ids), depth);
}
