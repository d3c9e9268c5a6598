using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace NativeReload.Isolation;

/// <summary>
/// The host ↔ worker channel: one Unix domain socket, strictly request/response, one request in flight. A frame is a
/// little-endian <c>uint32</c> body length followed by the body: one byte (the request's <see cref="WorkerOp"/> or the
/// response's <see cref="WorkerStatus"/>) and the payload. Strings are an <c>int32</c> byte count (-1: null) and UTF-8.
/// </summary>
internal enum WorkerOp : byte
{
    /// <summary>Worker → host, once, first: the token from the environment and the worker's process id.</summary>
    Hello = 1,

    /// <summary>Load a generation (and hand the state block over from the current one, if any).</summary>
    Load = 2,

    /// <summary><c>const char* f(void)</c>.</summary>
    CallString = 3,

    /// <summary><c>int32_t f(void)</c> or <c>int32_t f(int32_t, int32_t)</c>.</summary>
    CallInt32 = 4,

    /// <summary><c>int32_t f(const uint8_t* in, int32_t in_len, uint8_t* out, int32_t out_cap)</c>.</summary>
    CallBuffer = 5,

    /// <summary>Give the state back (<c>nr_unload</c>) and exit 0.</summary>
    Shutdown = 6,
}

/// <summary>The first byte of a response.</summary>
internal enum WorkerStatus : byte
{
    Ok = 0,

    /// <summary>CallString: the export returned a null pointer.</summary>
    NullString = 1,

    /// <summary>Load: the library asks for a bigger state block than the one offered (payload: uint64 size).</summary>
    NeedState = 2,

    /// <summary>Load: the library could not be loaded or bound (payload: int32 reason, string detail).</summary>
    LoadFailed = 3,

    /// <summary>Load: <c>nr_load</c> returned non-zero (payload: int32 result); the previous generation was rolled back.</summary>
    LoadRefused = 4,

    /// <summary>A call could not be made (payload: string detail), e.g. the export does not exist.</summary>
    CallFailed = 5,
}

/// <summary>Builds one frame in a reusable buffer.</summary>
internal sealed class FrameWriter
{
    private byte[] _buffer = new byte[256];
    private int _length;

    public FrameWriter Start(byte kind)
    {
        _length = 4;
        return WriteByte(kind);
    }

    public FrameWriter WriteByte(byte value)
    {
        Ensure(1);
        _buffer[_length++] = value;
        return this;
    }

    public FrameWriter WriteInt32(int value)
    {
        Ensure(4);
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(_length), value);
        _length += 4;
        return this;
    }

    public FrameWriter WriteInt64(long value)
    {
        Ensure(8);
        BinaryPrimitives.WriteInt64LittleEndian(_buffer.AsSpan(_length), value);
        _length += 8;
        return this;
    }

    public FrameWriter WriteString(string? value)
    {
        if (value is null)
        {
            return WriteInt32(-1);
        }

        int count = Encoding.UTF8.GetByteCount(value);
        WriteInt32(count);
        Ensure(count);
        _length += Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_length));
        return this;
    }

    /// <summary>A length-prefixed byte string (already UTF-8, or binary).</summary>
    public FrameWriter WriteBytes(ReadOnlySpan<byte> value)
    {
        WriteInt32(value.Length);
        Ensure(value.Length);
        value.CopyTo(_buffer.AsSpan(_length));
        _length += value.Length;
        return this;
    }

    /// <summary>Room for <paramref name="count"/> bytes written directly (<see cref="Advance"/> afterwards).</summary>
    public Span<byte> GetSpan(int count)
    {
        Ensure(count);
        return _buffer.AsSpan(_length, count);
    }

    public void Advance(int count) => _length += count;

    /// <summary>Overwrites an int32 at <paramref name="bodyOffset"/> (from the start of the body) already written.</summary>
    public void PatchInt32(int bodyOffset, int value) =>
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(4 + bodyOffset), value);

    /// <summary>Sends the frame in one write.</summary>
    public void Send(Socket socket)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer, (uint)(_length - 4));
        ReadOnlySpan<byte> frame = _buffer.AsSpan(0, _length);
        while (!frame.IsEmpty)
        {
            int sent = socket.Send(frame, SocketFlags.None);
            frame = frame[sent..];
        }
    }

    private void Ensure(int count)
    {
        if (_length + count > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        }
    }
}

/// <summary>Reads the fields of one received frame body.</summary>
internal ref struct FrameReader(ReadOnlySpan<byte> body)
{
    private readonly ReadOnlySpan<byte> _body = body;
    private int _position;

    public byte ReadByte() => _body[_position++];

    public int ReadInt32()
    {
        int value = BinaryPrimitives.ReadInt32LittleEndian(_body[_position..]);
        _position += 4;
        return value;
    }

    public long ReadInt64()
    {
        long value = BinaryPrimitives.ReadInt64LittleEndian(_body[_position..]);
        _position += 8;
        return value;
    }

    public ReadOnlySpan<byte> ReadBytes()
    {
        int count = ReadInt32();
        if (count < 0)
        {
            return default;
        }

        ReadOnlySpan<byte> value = _body.Slice(_position, count);
        _position += count;
        return value;
    }

    /// <summary>Exactly <paramref name="count"/> bytes without a length prefix.</summary>
    public ReadOnlySpan<byte> ReadBytesRaw(int count)
    {
        ReadOnlySpan<byte> value = _body.Slice(_position, count);
        _position += count;
        return value;
    }

    public string? ReadString()
    {
        int count = BinaryPrimitives.ReadInt32LittleEndian(_body[_position..]);
        ReadOnlySpan<byte> bytes = ReadBytes();
        return count < 0 ? null : Encoding.UTF8.GetString(bytes);
    }
}

/// <summary>Receiving whole frames.</summary>
internal static class FrameChannel
{
    /// <summary>Frames larger than this are a protocol error (a corrupted length), not an allocation.</summary>
    public const int MaxFrame = 256 * 1024 * 1024;

    /// <summary>
    /// Receives one frame body into <paramref name="buffer"/> (grown as needed) and returns its length.
    /// </summary>
    /// <exception cref="EndOfStreamException">The peer closed the socket (it exited or crashed).</exception>
    /// <exception cref="SocketException">The receive timed out (<see cref="SocketError.TimedOut"/>/<see cref="SocketError.WouldBlock"/>) or the connection was reset.</exception>
    public static int Receive(Socket socket, ref byte[] buffer)
    {
        Span<byte> header = stackalloc byte[4];
        Fill(socket, header);
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(header);
        if (length == 0 || length > MaxFrame)
        {
            throw new InvalidDataException($"bad frame length {length}");
        }

        if (buffer.Length < length)
        {
            buffer = new byte[Math.Max(buffer.Length * 2, (int)length)];
        }

        Fill(socket, buffer.AsSpan(0, (int)length));
        return (int)length;
    }

    private static void Fill(Socket socket, Span<byte> target)
    {
        while (!target.IsEmpty)
        {
            int received = socket.Receive(target, SocketFlags.None);
            if (received == 0)
            {
                throw new EndOfStreamException("the worker closed the channel");
            }

            target = target[received..];
        }
    }
}
