using System.Runtime.InteropServices;

namespace NativeReload.Tests.Support;

/// <summary>
/// What glibc's allocator holds in mmap'd chunks (mallinfo2's <c>hblkhd</c>): a block above glibc's largest mmap
/// threshold (32 MiB on 64-bit) is always mapped on allocation and unmapped on free, so a test can see whether native
/// memory it cannot otherwise reach was really given back.
/// </summary>
internal static class GlibcHeap
{
    public const long MiB = 1024 * 1024;

    /// <summary>Bytes in mmap'd chunks now.</summary>
    public static long MappedBytes() => (long)MallInfo2().hblkhd;

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
