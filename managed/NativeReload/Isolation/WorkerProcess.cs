using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace NativeReload.Isolation;

/// <summary>
/// One running worker: the child process and the connected socket. Requests go out one at a time
/// (<see cref="Exchange"/>); a receive timeout on the socket turns a hang into a <see cref="WorkerLostException"/>.
/// </summary>
internal sealed class WorkerProcess : IDisposable
{
    private readonly Process _process;
    private readonly Socket _socket;
    private byte[] _buffer = new byte[4096];
    private int _timeoutMilliseconds = -1;
    private uint _sequence;

    private WorkerProcess(Process process, Socket socket)
    {
        _process = process;
        _socket = socket;
    }

    public FrameWriter Writer { get; } = new();

    public int ProcessId => _process.Id;

    /// <summary>
    /// Starts the worker and waits until it connected and proved it is the child we started (a one-time token passed
    /// in its environment, never on the command line).
    /// </summary>
    /// <exception cref="IOException">The worker could not be started or did not connect in time (the message says why).</exception>
    public static WorkerProcess Start(IsolatedWorkerCommand command, string directory, TimeSpan startTimeout, Action<string> output)
    {
        string token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        string socketPath = Path.Combine(directory, $"w{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}.sock");
        if (Encoding.UTF8.GetByteCount(socketPath) > 100) // sun_path is 104-108 bytes
        {
            socketPath = Path.Combine(Path.GetTempPath(), $"nativereload-w{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}.sock");
        }

        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        listener.Listen(1);
        Process? process = null;
        try
        {
            var start = new ProcessStartInfo(command.FileName)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true, // the library's printf must not reach the host's stdout
                RedirectStandardError = true,

                // A pipe nobody writes to: the worker exits when it reaches end of file, which is when this process is
                // gone, however it ended (SIGKILL included) and whatever the library is doing (IsolationWorker.WatchHost).
                RedirectStandardInput = true,
            };
            foreach (string argument in command.Arguments)
            {
                start.ArgumentList.Add(argument);
            }

            start.ArgumentList.Add(socketPath);
            start.Environment[IsolationWorker.TokenVariable] = token;
            start.Environment["DOTNET_DbgEnableMiniDump"] = "0"; // a crash is expected here: no dump, no delay
            process = new Process { StartInfo = start };
            process.OutputDataReceived += (_, e) => Forward(output, e.Data);
            process.ErrorDataReceived += (_, e) => Forward(output, e.Data);
            try
            {
                process.Start();
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new IOException($"cannot start the worker {command.FileName}: {e.Message}", e);
            }

            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            // Accept synchronously (an async accept would leave the socket in the runtime's async mode, which makes
            // every later blocking call slower), polling so a worker that dies at start-up is noticed.
            long started = Stopwatch.GetTimestamp();
            while (!listener.Poll(TimeSpan.FromMilliseconds(20), SelectMode.SelectRead))
            {
                if (process.HasExited)
                {
                    throw new IOException($"the worker {command.FileName} exited before it connected ({WorkerExit.FromExitCode(process.ExitCode).Description})");
                }

                if (Stopwatch.GetElapsedTime(started) > startTimeout)
                {
                    throw new IOException($"the worker {command.FileName} did not connect within {WorkerExit.FormatInterval(startTimeout)}");
                }
            }

            Socket socket = listener.Accept();
            var worker = new WorkerProcess(process, socket);
            try
            {
                worker.SetTimeout(startTimeout);
                int length = FrameChannel.Receive(socket, ref worker._buffer, startTimeout, out uint sequence);
                var hello = new FrameReader(worker._buffer.AsSpan(0, length));
                if (sequence != 0 || (WorkerOp)hello.ReadByte() != WorkerOp.Hello || hello.ReadString() != token)
                {
                    throw new IOException("a process that is not our worker connected to the worker socket");
                }
            }
            catch (Exception e) when (e is SocketException or EndOfStreamException or InvalidDataException or IOException)
            {
                worker.Dispose();
                process = null;
                throw new IOException($"the worker did not introduce itself: {e.Message}", e);
            }
            catch
            {
                worker.Dispose();
                process = null;
                throw;
            }

            process = null; // owned by the worker now
            return worker;
        }
        finally
        {
            if (process is not null)
            {
                Kill(process);
                process.Dispose();
            }

            try
            {
                File.Delete(socketPath); // connected: nobody else may connect
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Sends <see cref="Writer"/>'s frame and returns the answer's body (valid until the next exchange).</summary>
    /// <remarks>The caller checked the request against <see cref="FrameChannel.MaxFrame"/>: a failure here is the worker's.</remarks>
    /// <exception cref="WorkerLostException">The worker died, broke the protocol, or did not answer within <paramref name="timeout"/>.</exception>
    public ReadOnlySpan<byte> Exchange(TimeSpan timeout)
    {
        SetTimeout(timeout);
        try
        {
            uint request = ++_sequence;
            Writer.Send(_socket, request);
            int length = FrameChannel.Receive(_socket, ref _buffer, timeout, out uint answer);
            if (answer != request)
            {
                // Something else wrote into the channel (the library has the worker's descriptors): every later
                // answer would be off by one, so this worker is done.
                throw new InvalidDataException($"an answer out of turn (request {request}, answer {answer})");
            }

            return _buffer.AsSpan(0, length);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
        {
            throw new WorkerLostException(WorkerLoss.TimedOut, "the worker did not answer in time", e);
        }
        catch (InvalidDataException e)
        {
            throw WorkerLostException.Protocol(e.Message, e);
        }
        catch (Exception e) when (e is SocketException or EndOfStreamException or IOException or ObjectDisposedException)
        {
            throw new WorkerLostException(WorkerLoss.Died, "the worker closed the channel", e);
        }
    }

    /// <summary>After a <see cref="WorkerLostException"/>: makes sure the process is gone and says how it ended.</summary>
    public WorkerExit Finish(WorkerLostException lost, TimeSpan timeout)
    {
        if (lost.Loss != WorkerLoss.Died)
        {
            // Hung or out of step: it will not end on its own, and nothing it says can be used any more.
            Kill(_process);
            _process.WaitForExit(5000);
            return lost.TimedOut
                ? WorkerExit.NoAnswer(timeout, _process.HasExited ? _process.ExitCode : null)
                : WorkerExit.BrokeProtocol(lost.Detail);
        }

        // The channel closed because the process is dying: give the kernel a moment to finish it.
        if (!_process.WaitForExit(5000))
        {
            Kill(_process);
            _process.WaitForExit(5000);
            return WorkerExit.Unknown();
        }

        return WorkerExit.FromExitCode(_process.ExitCode);
    }

    /// <summary>Asks the worker to give the state back and exit; kills it if it does not within <paramref name="timeout"/>.</summary>
    public void Shutdown(TimeSpan timeout)
    {
        try
        {
            Writer.Start((byte)WorkerOp.Shutdown);
            Exchange(timeout);
            if (!_process.WaitForExit((int)timeout.TotalMilliseconds))
            {
                Kill(_process);
            }
        }
        catch (WorkerLostException)
        {
            Kill(_process);
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        if (!_process.HasExited)
        {
            Kill(_process);
        }

        _process.WaitForExit(5000);
        _process.Dispose();
    }

    private void SetTimeout(TimeSpan timeout)
    {
        int milliseconds = timeout == Timeout.InfiniteTimeSpan ? 0 : Math.Max(1, (int)Math.Ceiling(timeout.TotalMilliseconds));
        if (milliseconds != _timeoutMilliseconds)
        {
            _socket.ReceiveTimeout = milliseconds;
            _socket.SendTimeout = milliseconds; // a worker that stops reading must not block the host in send
            _timeoutMilliseconds = milliseconds;
        }
    }

    private static void Forward(Action<string> output, string? line)
    {
        if (line is not null)
        {
            output(line);
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // already gone
        }
    }
}
