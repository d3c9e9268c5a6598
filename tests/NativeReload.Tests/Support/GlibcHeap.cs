using System.Runtime.InteropServices;

namespace NativeReload.Tests.Support;

/// <summary>
/// What glibc's allocator has handed out (mallinfo2), so a test can see whether native memory it cannot otherwise reach
/// was really given back. The blocks tests use are tens of MiB, far above what other threads allocate meanwhile.
/// </summary>
internal static class GlibcHeap
{
    public const long MiB = 1024 * 1024;

    /// <summary>How far two readings may differ by what other threads allocate meanwhile; a leak here is 40 MiB or more.</summary>
    public const long Noise = 4 * MiB;

    /// <summary>
    /// Bytes the allocator has handed out now: in its arenas (<c>uordblks</c>) plus in mmap'd chunks (<c>hblkhd</c>).
    /// Both, because a large request can also be served from a free chunk an arena already holds.
    /// </summary>
    public static long MappedBytes()
    {
        MallInfo info = MallInfo2();
        return (long)info.uordblks + (long)info.hblkhd;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo MallInfo2();

    // struct mallinfo2: ten size_t fields, in this order.
    [StructLayout(LayoutKind.Sequential)]
    private readonly struct MallInfo
    {
        public readonly nuint arena;
        public readonly nuint ordblks;
        public readonly nuint smblks;
        public readonly nuint hblks;
        public readonly nuint hblkhd;
        public readonly nuint usmblks;
        public readonly nuint fsmblks;
        public readonly nuint uordblks;
        public readonly nuint fordblks;
        public readonly nuint keepcost;
    }
}
