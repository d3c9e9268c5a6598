using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using NativeReload.Loading;
using NativeReload.Plugins;
using NativeReload.Reloading;

namespace NativeReload.Isolation;

/// <summary>
/// The worker side of the isolated mode: the process that really loads the library. It connects to the host's socket,
/// then loads generations and makes calls on request, one at a time, until the host closes the channel. When the
/// library crashes, this process dies with it, and only this process.
/// </summary>
/// <remarks>
/// The CLI runs it as <c>nativereload worker &lt;socket&gt;</c>. Any other executable can host it: call
/// <see cref="Run"/> from its <c>Main</c> when it is started with the arguments its <see cref="IsolatedWorkerCommand"/>
/// gives, e.g. <c>if (args is ["--nativereload-worker", var socket]) return IsolationWorker.Run(socket);</c>.
/// </remarks>
public static unsafe class IsolationWorker
{
    /// <summary>Environment variable that carries the host's one-time token to the worker (never on the command line).</summary>
    public const string TokenVariable = "NATIVERELOAD_WORKER_TOKEN";

    /// <summary>Serves the host on <paramref name="socketPath"/> until it closes the channel.</summary>
    /// <param name="socketPath">The Unix domain socket the host listens on (the last argument of the worker command).</param>
    /// <returns>The process exit code: 0 after a normal shutdown, 2 when the host could not be reached.</returns>
    public static int Run(string socketPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        string? token = Environment.GetEnvironmentVariable(TokenVariable);
        if (string.IsNullOrEmpty(token))
        {
            Console.Error.WriteLine($"nativereload worker: {TokenVariable} is not set; a worker is started by an isolated host, not by hand");
            return 2;
        }

        // The library and its own children need not see it: gone from .NET's copy of the environment and from the
        // native one (on Unix, .NET keeps its own copy, and setting a variable there leaves the C environ alone).
        Environment.SetEnvironmentVariable(TokenVariable, null);
        WorkerNative.UnsetEnvironmentVariable(TokenVariable);
        WorkerNative.ExitWhenHostIsGone();
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        }
        catch (SocketException e)
        {
            Console.Error.WriteLine($"nativereload worker: cannot connect to {socketPath}: {e.Message}");
            return 2;
        }

        var session = new Session(socket);
        session.Writer.Start((byte)WorkerOp.Hello).WriteString(token).WriteInt32(Environment.ProcessId).Send(socket, 0);
        return session.Serve();
    }

    private sealed class WorkerGeneration(long number, string filePath, nint handle, PluginHooks? plugin) : IDisposable
    {
        private nint[] _exports = new nint[8];

        public long Number { get; } = number;

        public string FilePath { get; } = filePath;

        public nint Handle { get; private set; } = handle;

        public PluginHooks? Plugin { get; } = plugin;

        /// <summary>The export with the host's id <paramref name="id"/>, resolved on first use; 0 when missing.</summary>
        public nint Export(int id, ReadOnlySpan<byte> name)
        {
            if ((uint)id < (uint)_exports.Length && _exports[id] != 0)
            {
                return _exports[id];
            }

            if (!NativeLibrary.TryGetExport(Handle, System.Text.Encoding.UTF8.GetString(name), out nint address))
            {
                return 0;
            }

            if (id >= _exports.Length)
            {
                Array.Resize(ref _exports, Math.Max(id + 1, _exports.Length * 2));
            }

            _exports[id] = address;
            return address;
        }

        public void Dispose()
        {
            if (Handle != 0)
            {
                NativeLibrary.Free(Handle);
                Handle = 0;
            }
        }
    }

    private sealed class Session(Socket socket)
    {
        private byte[] _buffer = new byte[4096];
        private WorkerGeneration? _current;
        private MappedStateBlock? _block;
        private WorkerGeneration? _pending;

        public FrameWriter Writer { get; } = new();

        public int Serve()
        {
            while (true)
            {
                int length;
                uint sequence;
                try
                {
                    length = FrameChannel.Receive(socket, ref _buffer, Timeout.InfiniteTimeSpan, out sequence);
                }
                catch (Exception e) when (e is EndOfStreamException or SocketException)
                {
                    Shutdown(); // the host went away: give the state back and leave
                    return 0;
                }
                catch (InvalidDataException e)
                {
                    Console.Error.WriteLine($"nativereload worker: the host sent a bad frame ({e.Message}); exiting");
                    return 2;
                }

                var request = new FrameReader(_buffer.AsSpan(0, length));
                switch ((WorkerOp)request.ReadByte())
                {
                    case WorkerOp.CallString:
                        CallString(ref request);
                        break;
                    case WorkerOp.CallInt32:
                        CallInt32(ref request);
                        break;
                    case WorkerOp.CallBuffer:
                        CallBuffer(ref request);
                        break;
                    case WorkerOp.Load:
                        Load(ref request);
                        break;
                    case WorkerOp.Shutdown:
                        Shutdown();
                        Writer.Start((byte)WorkerStatus.Ok).Send(socket, sequence);
                        return 0;
                    default:
                        Console.Error.WriteLine("nativereload worker: unknown request; exiting");
                        return 2;
                }

                if (Writer.BodyLength > FrameChannel.MaxFrame)
                {
                    // An answer the host would take for a corrupted length: say what happened instead.
                    int size = Writer.BodyLength;
                    Writer.Start((byte)WorkerStatus.CallFailed)
                        .WriteString($"the answer ({size} bytes) is larger than the channel's limit of {FrameChannel.MaxFrame} bytes");
                }

                Writer.Send(socket, sequence); // the answer carries its request's number
            }
        }

        private nint ResolveCall(ref FrameReader request)
        {
            int id = request.ReadInt32();
            ReadOnlySpan<byte> name = request.ReadBytes();
            if (_current is null)
            {
                Writer.Start((byte)WorkerStatus.CallFailed).WriteString("no generation is loaded in the worker");
                return 0;
            }

            nint address = _current.Export(id, name);
            if (address == 0)
            {
                Writer.Start((byte)WorkerStatus.CallFailed)
                    .WriteString($"generation {_current.Number} has no export {System.Text.Encoding.UTF8.GetString(name)}");
            }

            return address;
        }

        private void CallString(ref FrameReader request)
        {
            nint address = ResolveCall(ref request);
            if (address == 0)
            {
                return;
            }

            byte* text = ((delegate* unmanaged[Cdecl]<byte*>)address)();
            if (text is null)
            {
                Writer.Start((byte)WorkerStatus.NullString);
                return;
            }

            Writer.Start((byte)WorkerStatus.Ok).WriteBytes(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(text));
        }

        private void CallInt32(ref FrameReader request)
        {
            nint address = ResolveCall(ref request);
            int count = request.ReadInt32();
            int a = request.ReadInt32();
            int b = request.ReadInt32();
            if (address == 0)
            {
                return;
            }

            int result = count == 0
                ? ((delegate* unmanaged[Cdecl]<int>)address)()
                : ((delegate* unmanaged[Cdecl]<int, int, int>)address)(a, b);
            Writer.Start((byte)WorkerStatus.Ok).WriteInt32(result);
        }

        private void CallBuffer(ref FrameReader request)
        {
            nint address = ResolveCall(ref request);
            ReadOnlySpan<byte> input = request.ReadBytes();
            int capacity = request.ReadInt32();
            if (address == 0)
            {
                return;
            }

            // The answer: status, int32 result, int32 bytes written, the bytes. The native code writes straight into the
            // answer's buffer; the two ints are patched in after the call.
            Writer.Start((byte)WorkerStatus.Ok).WriteInt32(0).WriteInt32(0);
            Span<byte> output = Writer.GetSpan(capacity);
            int result;
            fixed (byte* inputPointer = input)
            fixed (byte* outputPointer = output)
            {
                result = ((delegate* unmanaged[Cdecl]<byte*, int, byte*, int, int>)address)(inputPointer, input.Length, outputPointer, capacity);
            }

            int written = Math.Clamp(result, 0, capacity);
            Writer.Advance(written);
            Writer.PatchInt32(1, result);
            Writer.PatchInt32(5, written);
        }

        private void Load(ref FrameReader request)
        {
            long number = request.ReadInt64();
            int loadKind = request.ReadInt32();
            string filePath = request.ReadString()!;
            string copyPath = request.ReadString()!;
            string contentHash = request.ReadString()!;
            string? blockPath = request.ReadString();
            string? copyFromPath = request.ReadString();
            int requiredCount = request.ReadInt32();
            var required = new string[requiredCount];
            for (int i = 0; i < requiredCount; i++)
            {
                required[i] = request.ReadString()!;
            }

            bool checkApi = request.ReadByte() != 0;
            uint api = (uint)request.ReadInt32();

            if (_pending?.Number != number)
            {
                _pending?.Dispose();
                _pending = null;
                try
                {
                    _pending = Open(number, filePath, copyPath, contentHash, required, checkApi ? api : null);
                }
                catch (LibraryLoadException e)
                {
                    Writer.Start((byte)WorkerStatus.LoadFailed).WriteInt32((int)e.Reason).WriteString(e.Detail);
                    return;
                }
            }

            WorkerGeneration next = _pending;
            ulong stateSize = next.Plugin?.StateSize ?? 0;
            MappedStateBlock? block;
            try
            {
                block = blockPath is null ? null
                    : _block is not null && _block.Path == blockPath ? _block
                    : MappedStateBlock.Open(blockPath);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                Writer.Start((byte)WorkerStatus.LoadFailed).WriteInt32((int)ReloadFailureReason.IoError).WriteString($"the worker cannot map the state block: {e.Message}");
                return;
            }

            if (stateSize > (block?.Size ?? 0))
            {
                if (!ReferenceEquals(block, _block))
                {
                    block?.Dispose();
                }

                Writer.Start((byte)WorkerStatus.NeedState).WriteInt64((long)stateSize);
                return; // keep the pending generation: the host offers a bigger block next
            }

            _pending = null;
            WorkerGeneration? old = _current;
            MappedStateBlock? oldBlock = _block;
            if (old is not null)
            {
                CallHook(old, oldBlock, NativeContract.Reload, unload: true);
            }

            if (copyFromPath is not null && block is not null && !ReferenceEquals(block, oldBlock))
            {
                // Growth: the old block, as nr_unload just left it, is copied into the bigger one.
                if (oldBlock is not null && oldBlock.Path == copyFromPath)
                {
                    block.CopyFrom(oldBlock);
                }
                else
                {
                    using MappedStateBlock source = MappedStateBlock.Open(copyFromPath);
                    block.CopyFrom(source);
                }
            }

            int result = CallHook(next, block, old is null ? loadKind : NativeContract.Reload, unload: false);
            if (result != 0)
            {
                if (old is not null)
                {
                    CallHook(old, oldBlock, NativeContract.Rollback, unload: false);
                }

                if (!ReferenceEquals(block, oldBlock))
                {
                    block?.Dispose();
                }

                next.Dispose();
                Writer.Start((byte)WorkerStatus.LoadRefused).WriteInt32(result);
                return;
            }

            if (block is not null && next.Plugin is not null)
            {
                if (next.Plugin.Info is not null)
                {
                    block.Layout = next.Plugin.StateLayout;
                }

                if (next.Plugin.HasLoad)
                {
                    block.EverLoaded = true;
                }
            }

            if (!ReferenceEquals(block, oldBlock))
            {
                oldBlock?.Dispose();
            }

            _block = block;
            _current = next;
            old?.Dispose();
            Writer.Start((byte)WorkerStatus.Ok).WriteInt32((int)(block?.Layout ?? 0)).WriteInt64((long)stateSize);
        }

        private static int CallHook(WorkerGeneration generation, MappedStateBlock? block, int loadKind, bool unload)
        {
            if (generation.Plugin is not { } plugin)
            {
                return 0;
            }

            NativeContract.HostState state = block?.ToHostState(loadKind, generation.Number)
                ?? new NativeContract.HostState { LoadKind = loadKind, Generation = generation.Number };
            return unload ? plugin.Unload(ref state) : plugin.Load(ref state);
        }

        private static WorkerGeneration Open(long number, string filePath, string copyPath, string contentHash, string[] required, uint? api)
        {
            // The host validated and hashed these bytes before writing the copy: make sure the file we map is them.
            string actual;
            try
            {
                using var stream = new FileStream(copyPath, FileMode.Open, FileAccess.Read, FileShare.Read);
                actual = Convert.ToHexStringLower(SHA256.HashData(stream));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new LibraryLoadException(filePath, ReloadFailureReason.IoError, $"the worker cannot read the shadow copy {copyPath}: {e.Message}", e);
            }

            if (!string.Equals(actual, contentHash, StringComparison.Ordinal))
            {
                throw new LibraryLoadException(filePath, ReloadFailureReason.IoError, $"shadow copy {copyPath} does not hold the validated bytes");
            }

            nint handle;
            try
            {
                handle = NativeLibrary.Load(copyPath);
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                throw new LibraryLoadException(filePath, ReloadFailureReason.LoaderRejected, $"the loader refused it: {e.Message}", e);
            }

            try
            {
                var resolver = new ExportResolver(handle, filePath, number);
                foreach (string name in required)
                {
                    resolver.Require(name);
                }

                if (resolver.MissingExports.Count > 0)
                {
                    string noun = resolver.MissingExports.Count == 1 ? "export" : "exports";
                    throw new LibraryLoadException(filePath, ReloadFailureReason.MissingExport, $"missing {noun} {string.Join(", ", resolver.MissingExports)}");
                }

                PluginHooks? plugin = PluginHooks.Resolve(resolver);
                if (plugin?.CheckVersions(api) is { } mismatch)
                {
                    throw new LibraryLoadException(filePath, ReloadFailureReason.AbiMismatch, mismatch);
                }

                return new WorkerGeneration(number, filePath, handle, plugin);
            }
            catch
            {
                NativeLibrary.Free(handle);
                throw;
            }
        }

        private void Shutdown()
        {
            if (_current is not null)
            {
                CallHook(_current, _block, NativeContract.Reload, unload: true);
                _current.Dispose();
                _current = null;
            }

            _pending?.Dispose();
            _pending = null;
            _block?.Dispose();
            _block = null;
        }
    }
}
