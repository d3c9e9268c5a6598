using NativeReload.Plugins;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Plugins;

/// <summary>
/// The state block's own memory rules: zero-filled, never shrunk, replaced buffers kept until the block is freed, and
/// then every byte of it given back. Whether memory was really given back is read from glibc itself (mallinfo2, see
/// <see cref="GlibcHeap"/>), with blocks of tens of MiB so other threads' allocations cannot hide a leak.
/// </summary>
[TestFixture]
[NonParallelizable]
[Platform("Linux", Reason = "reads glibc's allocator statistics (mallinfo2)")]
public sealed unsafe class StateBlockTests
{
    private const ulong MiB = 1024 * 1024;

    [Test]
    public void Free_GivesBackTheBlock_AndEveryBufferAGrowthReplaced()
    {
        long before = GlibcMappedBytes();
        StateBlock block = StateBlock.Allocate(40 * MiB);
        block.Adopt(block.GrowthFor(48 * MiB)!.Value);
        block.Adopt(block.GrowthFor(56 * MiB)!.Value);
        long held = GlibcMappedBytes() - before;
        Assert.That(held, Is.GreaterThanOrEqualTo((long)(144 * MiB) - GlibcHeap.Noise), "all three buffers are kept while the block lives");

        block.Free();

        Assert.That(GlibcMappedBytes() - before, Is.LessThan(GlibcHeap.Noise), "after Free nothing of the 144 MiB is still mapped");
        Assert.That(block.IsFreed, Is.True);
        Assert.That(block.Size, Is.Zero);
        Assert.That((nint)block.Data, Is.EqualTo(nint.Zero));
    }

    [Test]
    public void Free_Twice_IsHarmless()
    {
        long before = GlibcMappedBytes();
        StateBlock block = StateBlock.Allocate(40 * MiB);
        block.Free();
        block.Free(); // a double free of a mapped chunk would abort the process here
        Assert.That(GlibcMappedBytes() - before, Is.LessThan(GlibcHeap.Noise));
    }

    [Test]
    public void Bytes_AfterFree_Throws_NamingTheBlock()
    {
        StateBlock block = StateBlock.Allocate(64);
        block.Free();
        Assert.That(() => block.Bytes.Length, Throws.TypeOf<ObjectDisposedException>());
    }

    [Test]
    public void Bytes_ShowsTheWholeBlock_ZeroFilled()
    {
        StateBlock block = StateBlock.Allocate(4096);
        try
        {
            Assert.That(block.Bytes.Length, Is.EqualTo(4096));
            Assert.That(block.Bytes.ToArray(), Is.All.EqualTo(0));
            Assert.That((long)block.Data % StateBlock.Alignment, Is.Zero, "16-byte aligned");
        }
        finally
        {
            block.Free();
        }
    }

    [Test]
    public void AnEmptyBlock_HasNoMemory_AndAnEmptyView()
    {
        StateBlock block = StateBlock.Allocate(0);
        Assert.That((nint)block.Data, Is.EqualTo(nint.Zero));
        Assert.That(block.Bytes.Length, Is.Zero);
        block.Free();
    }

    [Test]
    public void GrowthFor_TheSameOrASmallerSize_IsNull_TheBlockNeverShrinks()
    {
        StateBlock block = StateBlock.Allocate(256);
        try
        {
            Assert.That(block.GrowthFor(256), Is.Null, "the same size");
            Assert.That(block.GrowthFor(255), Is.Null, "smaller");
            StateBuffer? grown = block.GrowthFor(257);
            Assert.That(grown, Is.Not.Null);
            grown!.Value.Free();
        }
        finally
        {
            block.Free();
        }
    }

    [Test]
    public void Growth_KeepsTheContent_ZeroFillsTheRest_AndTheOldBufferStaysReadable()
    {
        StateBlock block = StateBlock.Allocate(64);
        try
        {
            byte* old = (byte*)block.Data;
            for (int i = 0; i < 64; i++)
            {
                old[i] = (byte)(i + 1);
            }

            block.Adopt(block.GrowthFor(128)!.Value);

            Assert.That((nint)block.Data, Is.Not.EqualTo((nint)old));
            Assert.That(block.Bytes[..64].ToArray(), Is.EqualTo(Enumerable.Range(1, 64).Select(i => (byte)i).ToArray()));
            Assert.That(block.Bytes[64..].ToArray(), Is.All.EqualTo(0));
            Assert.That(old[63], Is.EqualTo(64), "the replaced buffer is not freed while the block lives");
        }
        finally
        {
            block.Free();
        }
    }

    [Test]
    public void Growth_OfAnEmptyBlock_IsZeroFilled()
    {
        StateBlock block = StateBlock.Allocate(0);
        block.Adopt(block.GrowthFor(32)!.Value);
        try
        {
            Assert.That(block.Bytes.ToArray(), Is.EqualTo(new byte[32]));
        }
        finally
        {
            block.Free();
        }
    }

    [Test]
    public void Allocate_MoreThanTheLargestBlock_Throws_SayingTheLimit()
    {
        Assert.That(() => StateBuffer.Allocate(StateBlock.MaxSize + 1),
            Throws.TypeOf<InsufficientMemoryException>()
                .With.Message.EqualTo($"a state block of {StateBlock.MaxSize + 1} bytes is more than the {StateBlock.MaxSize} bytes allowed"));
    }

    private static long GlibcMappedBytes() => GlibcHeap.MappedBytes();
}
