using NativeReload.Isolation;

namespace NativeReload.Tests.Isolation;

/// <summary>An answer comes from another process: a field that does not fit is a protocol error, never a read past the frame.</summary>
[TestFixture]
public sealed class FrameReaderTests
{
    [Test]
    public void AStringLongerThanTheFrame_IsInvalidData()
    {
        byte[] body = [0x05, 0x40, 0x42, 0x0F, 0x00, (byte)'a'];
        Assert.That(() =>
        {
            var reader = new FrameReader(body);
            reader.ReadByte();
            return reader.ReadString();
        }, Throws.TypeOf<InvalidDataException>().With.Message.Contains("1000000 bytes"));
    }

    [TestCase(-2)]
    [TestCase(7)]
    public void ARawCountOutsideTheFrame_IsInvalidData(int count)
    {
        byte[] body = [1, 2, 3];
        Assert.That(() => new FrameReader(body).ReadBytesRaw(count).Length, Throws.TypeOf<InvalidDataException>());
    }

    [Test]
    public void AnInt64PastTheEnd_IsInvalidData()
    {
        byte[] body = [1, 2, 3, 4];
        Assert.That(() => new FrameReader(body).ReadInt64(), Throws.TypeOf<InvalidDataException>());
    }

    [Test]
    public void NullAndEmptyStrings_StillRead()
    {
        byte[] body = [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0];
        var reader = new FrameReader(body);
        Assert.That(reader.ReadString(), Is.Null);
        Assert.That(reader.ReadString(), Is.Empty);
    }
}
