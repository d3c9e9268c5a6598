using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace NativeReload.Isolation;

/// <summary>
/// The host ↔ worker channel: one Unix domain socket, strictly request/response, one request in flight. A frame is a
/// little-endian <c>uint32</c> body length, a <c>uint32</c> request number (the host counts its requests from 1; an
/// answer carries the number of its request; Hello is 0), then the body: one byte (the request's <see cref="WorkerOp"/>
/// or the response's <see cref="WorkerStatus"/>) and the payload. Strings are an <c>int32</c> byte count (-1: null) and
/// UTF-8.
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
        _length = FrameChannel.HeaderSize;
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

    /// <summary>Bytes of body written so far (the frame's length prefix excluded).</summary>
    public int BodyLength => _length - FrameChannel.HeaderSize;

    /// <summary>Overwrites an int32 at <paramref name="bodyOffset"/> (from the start of the body) already written.</summary>
    public void PatchInt32(int bodyOffset, int value) =>
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(FrameChannel.HeaderSize + bodyOffset), value);

    /// <summary>Sends the frame in one write, numbered <paramref name="sequence"/>.</summary>
    public void Send(Socket socket, uint sequence)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer, (uint)BodyLength);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(4), sequence);
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

/// <summary>
/// Reads the fields of one received frame body. The body comes from another process: every read is bounds-checked and
/// a field that does not fit is an <see cref="InvalidDataException"/> (a protocol error), never a read past the body.
/// </summary>
internal ref struct FrameReader(ReadOnlySpan<byte> body)
{
    private readonly ReadOnlySpan<byte> _body = body;
    private int _position;

    public byte ReadByte() => Take(1)[0];

    public int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

    public long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    /// <summary>An int32 byte count and that many bytes; a count of -1 is null (an empty span).</summary>
    public ReadOnlySpan<byte> ReadBytes()
    {
        int count = ReadInt32();
        return count == -1 ? default : ReadBytesRaw(count);
    }

    /// <summary>Exactly <paramref name="count"/> bytes without a length prefix.</summary>
    public ReadOnlySpan<byte> ReadBytesRaw(int count) => Take(count);

    public string? ReadString()
    {
        int count = ReadInt32();
        return count == -1 ? null : Encoding.UTF8.GetString(ReadBytesRaw(count));
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || count > _body.Length - _position)
        {
            throw new InvalidDataException($"a field of {count} bytes at offset {_position} does not fit in a frame of {_body.Length} bytes");
        }

        ReadOnlySpan<byte> value = _body.Slice(_position, count);
        _position += count;
        return value;
    }
}

/// <summary>Receiving whole frames.</summary>
internal static class FrameChannel
{
    /// <summary>Frames larger than this are a protocol error (a corrupted length), not an allocation.</summary>
    public const int MaxFrame = 256 * 1024 * 1024;

    /// <summary>Bytes before the body: the body length and the request number.</summary>
    public const int HeaderSize = 8;

    /// <summary>
    /// Receives one frame body into <paramref name="buffer"/> and returns its length. The buffer grows with the bytes
    /// that really arrive, not with what the length prefix claims.
    /// </summary>
    /// <param name="socket">The channel; its <see cref="Socket.ReceiveTimeout"/> is <paramref name="timeout"/> on entry and on return.</param>
    /// <param name="buffer">Receives the body; replaced by a bigger one when needed.</param>
    /// <param name="timeout">Bounds the whole frame, however slowly it trickles in; <see cref="Timeout.InfiniteTimeSpan"/>: none.</param>
    /// <exception cref="EndOfStreamException">The peer closed the socket (it exited or crashed).</exception>
    /// <exception cref="SocketException">The frame did not arrive in time (<see cref="SocketError.TimedOut"/>) or the connection was reset.</exception>
    /// <param name="sequence">The frame's request number.</param>
    /// <exception cref="InvalidDataException">The length prefix is 0 or larger than <see cref="MaxFrame"/>.</exception>
    public static int Receive(Socket socket, ref byte[] buffer, TimeSpan timeout, out uint sequence)
    {
        var deadline = new Deadline(socket, timeout);
        try
        {
            Span<byte> header = stackalloc byte[HeaderSize];
            Fill(socket, header, ref deadline);
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(header);
            sequence = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            if (length == 0 || length > MaxFrame)
            {
                throw new InvalidDataException($"bad frame length {length}");
            }

            int total = (int)length;
            int received = 0;
            while (received < total)
            {
                if (received == buffer.Length)
                {
                    Array.Resize(ref buffer, (int)Math.Min(total, Math.Max(buffer.Length * 2L, 64 * 1024)));
                }

                int chunk = Math.Min(total, buffer.Length) - received;
                Fill(socket, buffer.AsSpan(received, chunk), ref deadline);
                received += chunk;
            }

            return total;
        }
        finally
        {
            deadline.Restore();
        }
    }

    private static void Fill(Socket socket, Span<byte> target, ref Deadline deadline)
    {
        while (!target.IsEmpty)
        {
            deadline.BeforeReceive();
            int received = socket.Receive(target, SocketFlags.None);
            if (received == 0)
            {
                throw new EndOfStreamException("the worker closed the channel");
            }

            target = target[received..];
        }
    }

    /// <summary>
    /// One frame's time budget. The first receive runs with the socket's own timeout (the whole budget); a later one
    /// that would block gets only what is left, so a peer that sends one byte just before each timeout cannot stretch
    /// a call forever.
    /// </summary>
    private struct Deadline(Socket socket, TimeSpan timeout)
    {
        private readonly long _started = System.Diagnostics.Stopwatch.GetTimestamp();
        private bool _first = true;
        private bool _changed;

        public void BeforeReceive()
        {
            if (_first || timeout == Timeout.InfiniteTimeSpan || socket.Available > 0)
            {
                _first = false;
                return;
            }

            TimeSpan left = timeout - System.Diagnostics.Stopwatch.GetElapsedTime(_started);
            if (left <= TimeSpan.Zero)
            {
                throw new SocketException((int)SocketError.TimedOut);
            }

            socket.ReceiveTimeout = Math.Max(1, (int)Math.Ceiling(left.TotalMilliseconds));
            _changed = true;
        }

        public readonly void Restore()
        {
            if (_changed)
            {
                socket.ReceiveTimeout = Math.Max(1, (int)Math.Ceiling(timeout.TotalMilliseconds));
            }
        }
    }
}
