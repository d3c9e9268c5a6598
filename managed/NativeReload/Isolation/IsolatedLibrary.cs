using System.Diagnostics;
using System.Text;
using CommunityToolkit.HighPerformance.Buffers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NativeReload.Loading;
using NativeReload.Plugins;
using NativeReload.Reloading;
using NativeReload.ShadowCopying;
using NativeReload.Watching;

namespace NativeReload.Isolation;

/// <summary>
/// A native library that runs in a child worker process, so that a crash in it (a segfault, <c>abort()</c>, a stack
/// overflow, <c>exit()</c>, or a hang) never takes this process down. Calls cross a Unix domain socket; strings and
/// buffers are copied. When the worker dies, <see cref="Crashed"/> says how, and a new worker is started on the last
/// generation that did not crash; the crashing build is not loaded again until the file changes.
/// </summary>
/// <remarks>
/// <para>The host side does what <see cref="ReloadableLibrary{TExports}"/> does up to the loader: it watches the file,
/// reads and validates it completely (<see cref="CandidateFile"/>), and writes the shadow copy. It keeps the copy of
/// every generation that may have to be restarted. The worker checks the copy's hash, loads it, binds the required
/// exports, checks the plugin contract's versions and runs <c>nr_unload</c>/<c>nr_load</c>.</para>
/// <para>The plugin contract's state block lives in a memory-mapped file the host owns, so it outlives every worker.</para>
/// <para><b>Thread-safety:</b> all members are thread-safe; calls are serialised (one request in flight per worker).
/// A reload happens between two calls. Events are raised after the internal lock is released, on the thread whose
/// call or reload caused them: a handler may call back into the library, or wait for <see cref="Dispose"/> on another
/// thread.</para>
/// <para><b>Trust:</b> the worker and the library in it are not trusted. Sizes and offsets come from the host's own
/// records, every answer is bounds-checked, and a worker that answers garbage is killed and reported like a crash
/// (docs/isolation.md).</para>
/// </remarks>
public sealed class IsolatedLibrary : IDisposable
{
    /// <summary>The largest input or output of <see cref="CallBuffer"/>: what fits in one frame of the worker channel.</summary>
    public const int MaxBufferLength = FrameChannel.MaxFrame - 4096;

    /// <summary>The longest export name, in UTF-8 bytes.</summary>
    private const int MaxExportNameLength = 1024;

    private const int KeptGoodGenerations = 3;

    private readonly IsolatedLibraryOptions _options;
    private readonly ILogger _logger;
    private readonly IsolatedWorkerCommand _command;
    private readonly ShadowCopyDirectory _shadows;
    private readonly Lock _lock = new();
    private readonly List<HostGeneration> _good = []; // oldest first; the last one is the one to restart on
    private readonly Dictionary<string, ExportName> _exportNames = new(StringComparer.Ordinal);
    private readonly List<Action> _events = []; // raised once _lock is released (Locked)
    private readonly SettledChangeLoop? _changes;
    private WorkerProcess? _worker;
    private HostGeneration? _current;
    private SharedStateFile? _block;
    private long _lastNumber;
    private string? _crashedHash;
    private string? _lastFailedHash;
    private int _disposed;

    /// <summary>Loads <paramref name="filePath"/> in a new worker as generation 1 and, unless disabled, starts watching it.</summary>
    /// <param name="filePath">The library file (the build output; only copies of it are loaded).</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <param name="logger">Diagnostics; null for none.</param>
    /// <exception cref="LibraryLoadException">The first load failed, or the worker crashed while loading it.</exception>
    /// <exception cref="InvalidOperationException">No worker executable was configured or found.</exception>
    public IsolatedLibrary(string filePath, IsolatedLibraryOptions? options = null, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(filePath);
        FilePath = Path.GetFullPath(filePath);
        _options = options ?? new IsolatedLibraryOptions();
        _logger = SafeLogger.Wrap(logger); // a throwing host logger must not break a reload, a build or a worker restart
        _command = _options.Worker ?? IsolatedWorkerCommand.Default();
        _shadows = ShadowCopyDirectory.Create(_options.ShadowRoot, _logger);
        try
        {
            LoadFirst();
        }
        catch
        {
            _worker?.Dispose();
            _block?.Delete();
            _shadows.Dispose();
            throw;
        }

        if (_options.WatchForChanges)
        {
            _changes = new SettledChangeLoop(
                FilePath,
                _options,
                () => Attempt(fromWatcher: true) == Outcome.NotSettled,
                e => IsolationLog.ReloadError(_logger, e, FilePath),
                _logger);
        }
    }

    /// <summary>A new generation took over in the worker.</summary>
    public event EventHandler<ReloadedEventArgs>? Reloaded;

    /// <summary>A change could not be loaded (or its <c>nr_load</c> refused); the current generation keeps serving.</summary>
    public event EventHandler<ReloadFailedEventArgs>? ReloadFailed;

    /// <summary>
    /// The worker died, hung, or broke the protocol (it was killed). Raised once per death, after the restart;
    /// <see cref="Generation"/> says which generation runs now (0: none is left).
    /// </summary>
    public event EventHandler<WorkerCrashedEventArgs>? Crashed;

    /// <summary>The library file (full path).</summary>
    public string FilePath { get; }

    /// <summary>The shadow directory holding the copies and the state block.</summary>
    public string ShadowDirectory => _shadows.Path;

    /// <summary>The generation the worker runs now; 0 when every loaded generation crashed and no new build came yet.</summary>
    public long Generation
    {
        get
        {
            lock (_lock)
            {
                return _current?.Number ?? 0;
            }
        }
    }

    /// <summary>The worker's process id (0 when none runs).</summary>
    public int WorkerProcessId
    {
        get
        {
            lock (_lock)
            {
                return _worker?.ProcessId ?? 0;
            }
        }
    }

    /// <summary>The <c>state_layout</c> of the generation that last accepted the state block (0: fresh or no block).</summary>
    public uint StateLayout
    {
        get
        {
            lock (_lock)
            {
                return _block?.Layout ?? 0;
            }
        }
    }

    /// <summary>A copy of the state block's bytes as they are now (empty when no generation asked for state).</summary>
    /// <remarks>The size is the host's own record of the block, whatever the worker wrote into the file's header.</remarks>
    public byte[] StateSnapshot()
    {
        lock (_lock)
        {
            return _block?.Snapshot() ?? [];
        }
    }

    /// <summary>Calls <c>const char* export(void)</c> in the worker; the string is copied (null for a null pointer).</summary>
    /// <exception cref="WorkerCrashedException">The worker died or hung during the call (already restarted).</exception>
    /// <exception cref="IsolatedCallException">The export does not exist in the running generation.</exception>
    /// <exception cref="IsolatedLibraryUnavailableException">No generation can run.</exception>
    public string? CallString(string export)
    {
        using (Locked())
        {
            WorkerProcess worker = Ready();
            ExportName name = NameOf(export);
            worker.Writer.Start((byte)WorkerOp.CallString).WriteInt32(name.Id).WriteBytes(name.Utf8);
            var answer = new FrameReader(Exchange(worker));
            try
            {
                return (WorkerStatus)answer.ReadByte() switch
                {
                    WorkerStatus.Ok => StringPool.Shared.GetOrAdd(answer.ReadBytes(), Encoding.UTF8),
                    WorkerStatus.NullString => null,
                    WorkerStatus.CallFailed => throw new IsolatedCallException($"{FilePath}: {answer.ReadString()}"),
                    var status => throw UnknownStatus(status),
                };
            }
            catch (Exception e) when (e is InvalidDataException or DecoderFallbackException)
            {
                throw BrokeProtocol(e);
            }
        }
    }

    /// <summary>Calls <c>int32_t export(void)</c> in the worker.</summary>
    /// <inheritdoc cref="CallString" path="/exception"/>
    public int CallInt32(string export) => CallInt32(export, 0, 0, 0);

    /// <summary>Calls <c>int32_t export(int32_t a, int32_t b)</c> in the worker.</summary>
    /// <inheritdoc cref="CallString" path="/exception"/>
    public int CallInt32(string export, int a, int b) => CallInt32(export, 2, a, b);

    /// <summary>
    /// Calls <c>int32_t export(const uint8_t* in, int32_t in_len, uint8_t* out, int32_t out_cap)</c> in the worker:
    /// <paramref name="input"/> is copied in, and up to <paramref name="output"/>'s length of what the export wrote is
    /// copied back. The export returns the number of bytes it wrote (or a negative error of its own).
    /// </summary>
    /// <returns>The export's return value; <c>min(max(result, 0), output.Length)</c> bytes of <paramref name="output"/> were filled.</returns>
    /// <exception cref="ArgumentException"><paramref name="input"/> or <paramref name="output"/> is longer than
    /// <see cref="MaxBufferLength"/>; checked before anything is sent, so nothing else changes.</exception>
    /// <inheritdoc cref="CallString" path="/exception"/>
    public int CallBuffer(string export, ReadOnlySpan<byte> input, Span<byte> output)
    {
        // The caller's mistake, not the worker's: refused before it reaches the channel, where it would break the frame.
        if (input.Length > MaxBufferLength)
        {
            throw new ArgumentException($"{FilePath}: an isolated call's input is limited to {MaxBufferLength} bytes; {input.Length} given", nameof(input));
        }

        if (output.Length > MaxBufferLength)
        {
            throw new ArgumentException($"{FilePath}: an isolated call's output is limited to {MaxBufferLength} bytes; {output.Length} given", nameof(output));
        }

        using (Locked())
        {
            WorkerProcess worker = Ready();
            ExportName name = NameOf(export);
            worker.Writer.Start((byte)WorkerOp.CallBuffer).WriteInt32(name.Id).WriteBytes(name.Utf8).WriteBytes(input).WriteInt32(output.Length);
            var answer = new FrameReader(Exchange(worker));
            try
            {
                switch ((WorkerStatus)answer.ReadByte())
                {
                    case WorkerStatus.Ok:
                        int result = answer.ReadInt32();
                        int written = answer.ReadInt32();
                        if (written < 0 || written > output.Length)
                        {
                            throw new InvalidDataException($"{written} bytes written into an output of {output.Length}");
                        }

                        answer.ReadBytesRaw(written).CopyTo(output);
                        return result;
                    case WorkerStatus.CallFailed:
                        throw new IsolatedCallException($"{FilePath}: {answer.ReadString()}");
                    case var status:
                        throw UnknownStatus(status);
                }
            }
            catch (Exception e) when (e is InvalidDataException or DecoderFallbackException)
            {
                throw BrokeProtocol(e);
            }
        }
    }

    /// <summary>Reads the file now, without waiting for the watcher. Failures and crashes are reported through the events.</summary>
    /// <remarks>A build the worker cannot take (a missing export, a refused <c>nr_load</c>, a state block larger than
    /// 2 GiB) is a <see cref="ReloadFailed"/> event with a <see cref="LibraryLoadException"/>, and its copy is removed.</remarks>
    public ReloadOutcome Reload() => Attempt(fromWatcher: false) switch
    {
        Outcome.Loaded => ReloadOutcome.Loaded,
        Outcome.Unchanged => ReloadOutcome.Unchanged,
        _ => ReloadOutcome.Failed,
    };

    /// <summary>Stops watching, lets the worker give the state back (<c>nr_unload</c>) and exit, and removes the copies and the block.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Stopping the watcher never waits for its thread (SettledChangeLoop.Dispose), so a handler on it that waits for
        // this Dispose on another thread cannot deadlock it.
        _changes?.Dispose();

        lock (_lock)
        {
            if (_worker is not null)
            {
                _worker.Shutdown(_options.CallTimeout);
                _worker.Dispose();
                _worker = null;
            }

            _current = null;
            _block?.Delete();
            _block = null;
            _good.Clear();
        }

        _shadows.Dispose();
    }

    private enum Outcome
    {
        Loaded,
        Unchanged,
        Failed,
        NotSettled,
    }

    private enum LoadStatus
    {
        Loaded,
        Failed,
        Refused,
        Crashed,
    }

    private int CallInt32(string export, int count, int a, int b)
    {
        using (Locked())
        {
            WorkerProcess worker = Ready();
            ExportName name = NameOf(export);
            worker.Writer.Start((byte)WorkerOp.CallInt32).WriteInt32(name.Id).WriteBytes(name.Utf8).WriteInt32(count).WriteInt32(a).WriteInt32(b);
            var answer = new FrameReader(Exchange(worker));
            try
            {
                return (WorkerStatus)answer.ReadByte() switch
                {
                    WorkerStatus.Ok => answer.ReadInt32(),
                    WorkerStatus.CallFailed => throw new IsolatedCallException($"{FilePath}: {answer.ReadString()}"),
                    var status => throw UnknownStatus(status),
                };
            }
            catch (Exception e) when (e is InvalidDataException or DecoderFallbackException)
            {
                throw BrokeProtocol(e);
            }
        }
    }

    private static InvalidDataException UnknownStatus(WorkerStatus status) => new($"unknown answer status 0x{(byte)status:X2}");

    /// <summary>An answer that is not one: the worker is killed (it is out of step), reported, and restarted on the last good generation.</summary>
    private WorkerCrashedException BrokeProtocol(Exception e) => Lost(WorkerLostException.Protocol(e.Message, e));

    /// <summary>Enters the lock; disposing the scope leaves it and then raises the events queued meanwhile.</summary>
    private EventScope Locked()
    {
        _lock.Enter();
        return new EventScope(this);
    }

    /// <summary>Queues an event to be raised once the lock is released (see <see cref="Locked"/>). Called under the lock.</summary>
    private void Raise<T>(EventHandler<T>? handler, T args)
    {
        if (handler is not null)
        {
            _events.Add(() => handler(this, args));
        }
    }

    private void LoadFirst()
    {
        long started = Stopwatch.GetTimestamp();
        CandidateFile candidate = CandidateFile.Read(FilePath);
        HostGeneration first = WriteGeneration(candidate, 1);
        _lastNumber = 1;
        StartWorker();
        LoadResult result = LoadInWorker(first, NativeContract.FirstLoad);
        switch (result.Status)
        {
            case LoadStatus.Loaded:
                first.LoadDuration = Stopwatch.GetElapsedTime(started);
                Adopt(first);
                return;
            case LoadStatus.Failed:
                throw result.Failure!;
            case LoadStatus.Refused:
                throw new LibraryLoadException(FilePath, ReloadFailureReason.InitFailed, $"nr_load returned {result.Refusal} on the first load");
            default:
                WorkerExit exit = _worker!.Finish(result.Lost!, _options.CallTimeout);
                throw new LibraryLoadException(FilePath, ReloadFailureReason.InitFailed, $"the worker crashed while loading generation 1 ({exit.Description})");
        }
    }

    /// <summary>The running worker; throws when no generation can run.</summary>
    private WorkerProcess Ready()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_worker is { } worker && _current is not null)
        {
            return worker;
        }

        throw new IsolatedLibraryUnavailableException(
            $"{FilePath}: no generation can run (generation {_lastNumber} crashed and no earlier one is left) until the file changes");
    }

    /// <summary>One request/answer with the running generation; a death, a hang or garbage becomes a crash report and a restart.</summary>
    private ReadOnlySpan<byte> Exchange(WorkerProcess worker)
    {
        try
        {
            return worker.Exchange(_options.CallTimeout);
        }
        catch (WorkerLostException lost)
        {
            throw Lost(lost);
        }
    }

    /// <summary>The running generation's worker is lost: report it, restart on the last good one, and say so to the caller.</summary>
    private WorkerCrashedException Lost(WorkerLostException lost)
    {
        WorkerCrashedEventArgs crash = ReportLost(lost, _current!, duringLoad: false);
        RestartOnGood(NativeContract.Reload);
        return new WorkerCrashedException(crash);
    }

    private ExportName NameOf(string export)
    {
        ArgumentException.ThrowIfNullOrEmpty(export);
        if (!_exportNames.TryGetValue(export, out ExportName? name))
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(export);
            if (utf8.Length > MaxExportNameLength)
            {
                throw new ArgumentException($"{FilePath}: an export name is limited to {MaxExportNameLength} bytes; {utf8.Length} given", nameof(export));
            }

            name = new ExportName(_exportNames.Count, utf8);
            _exportNames.Add(export, name);
        }

        return name;
    }

    private HostGeneration WriteGeneration(CandidateFile candidate, long number)
    {
        string copy;
        try
        {
            copy = _shadows.WriteCopy(Path.GetFileName(FilePath), number, candidate.Content);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LibraryLoadException(FilePath, ReloadFailureReason.IoError, $"cannot write shadow copy in {_shadows.Path}: {e.Message}", e);
        }

        return new HostGeneration(number, copy, candidate.ContentHash);
    }

    private void StartWorker()
    {
        Action<string> output = _options.WorkerOutput ?? (line => Console.Error.WriteLine("worker| " + line));
        try
        {
            _worker = WorkerProcess.Start(_command, _shadows.Path, _options.StartTimeout, output);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            throw new LibraryLoadException(FilePath, ReloadFailureReason.LoaderRejected, e.Message, e);
        }

        IsolationLog.WorkerStarted(_logger, FilePath, _worker.ProcessId);
    }

    /// <summary>
    /// Loads <paramref name="generation"/> in the running worker, growing the state block when the library asks for a
    /// bigger one. <paramref name="loadKind"/> is used only when the worker runs no generation yet.
    /// </summary>
    private LoadResult LoadInWorker(HostGeneration generation, int loadKind)
    {
        WorkerProcess worker = _worker!;
        SharedStateFile? offered = _block;
        SharedStateFile? grown = null;
        while (true)
        {
            try
            {
                // Whatever the last worker wrote into the headers, the next one maps blocks that are what the host says.
                foreach (SharedStateFile? block in (ReadOnlySpan<SharedStateFile?>)[offered, _block == offered ? null : _block])
                {
                    if (block?.RestoreHeader() == true)
                    {
                        IsolationLog.StateHeaderRestored(_logger, FilePath, block.Path);
                    }
                }
            }
            catch (IOException e)
            {
                grown?.Delete();
                return new LoadResult(LoadStatus.Failed, Failure: new LibraryLoadException(FilePath, ReloadFailureReason.IoError, $"cannot prepare the state block: {e.Message}", e));
            }

            FrameWriter request = worker.Writer.Start((byte)WorkerOp.Load)
                .WriteInt64(generation.Number)
                .WriteInt32(loadKind)
                .WriteString(FilePath)
                .WriteString(generation.CopyPath)
                .WriteString(generation.ContentHash)
                .WriteString(offered?.Path)
                .WriteString(grown is not null ? _block?.Path : null)
                .WriteInt32(_options.RequiredExports.Count);
            foreach (string name in _options.RequiredExports)
            {
                request.WriteString(name);
            }

            request.WriteByte(_options.ExpectedApiVersion is null ? (byte)0 : (byte)1).WriteInt32(unchecked((int)(_options.ExpectedApiVersion ?? 0)));

            FrameReader answer;
            try
            {
                answer = new FrameReader(worker.Exchange(_options.CallTimeout));
            }
            catch (WorkerLostException lost)
            {
                grown?.Delete(); // partial writes into a block that never took over are dropped with it
                return new LoadResult(LoadStatus.Crashed, Lost: lost);
            }

            try
            {
                switch ((WorkerStatus)answer.ReadByte())
                {
                    case WorkerStatus.Ok:
                        if (grown is not null)
                        {
                            _block?.Delete();
                            _block = grown;
                        }

                        generation.LoadCompleted = true;
                        return new LoadResult(LoadStatus.Loaded);
                    case WorkerStatus.NeedState when grown is null:
                        ulong wanted = unchecked((ulong)answer.ReadInt64());
                        if (wanted > SharedStateFile.MaxSize)
                        {
                            return new LoadResult(LoadStatus.Failed, Failure: new LibraryLoadException(FilePath, ReloadFailureReason.InitFailed,
                                $"it asks for a state block of {wanted} bytes (nr_get_plugin_info's state_size); the limit is 2 GiB"));
                        }

                        try
                        {
                            grown = SharedStateFile.Create(_shadows.Path, wanted);
                        }
                        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                        {
                            return new LoadResult(LoadStatus.Failed, Failure: new LibraryLoadException(FilePath, ReloadFailureReason.IoError,
                                $"cannot create a state block of {wanted} bytes in {_shadows.Path}: {e.Message}", e));
                        }

                        offered = grown;
                        continue;
                    case WorkerStatus.LoadFailed:
                        grown?.Delete();
                        int reason = answer.ReadInt32();
                        string detail = answer.ReadString() ?? "failed";
                        return Enum.IsDefined((ReloadFailureReason)reason)
                            ? new LoadResult(LoadStatus.Failed, Failure: new LibraryLoadException(FilePath, (ReloadFailureReason)reason, detail))
                            : throw new InvalidDataException($"unknown failure reason {reason}");
                    case WorkerStatus.LoadRefused:
                        grown?.Delete();
                        return new LoadResult(LoadStatus.Refused, Refusal: answer.ReadInt32());
                    case var status:
                        throw UnknownStatus(status);
                }
            }
            catch (Exception e) when (e is InvalidDataException or DecoderFallbackException)
            {
                grown?.Delete();
                return new LoadResult(LoadStatus.Crashed, Lost: WorkerLostException.Protocol(e.Message, e));
            }
        }
    }

    /// <summary>Bookkeeping after a worker death: how it ended, the event, and the crashed generation is never restarted.</summary>
    private WorkerCrashedEventArgs ReportLost(WorkerLostException lost, HostGeneration crashed, bool duringLoad)
    {
        WorkerExit exit = _worker!.Finish(lost, _options.CallTimeout);
        _worker.Dispose();
        _worker = null;
        _current = null;
        _crashedHash = crashed.ContentHash;
        _good.Remove(crashed);
        _shadows.TryDeleteCopy(crashed.CopyPath);

        var crash = new WorkerCrashedEventArgs(FilePath, crashed.Number, exit, duringLoad);
        IsolationLog.Crashed(_logger, FilePath, crashed.Number, exit.Description);
        Raise(Crashed, crash);
        return crash;
    }

    /// <summary>Starts a worker on the newest generation that did not crash; falls back to older ones; none left: unavailable.</summary>
    private void RestartOnGood(int loadKind)
    {
        while (_good.Count > 0)
        {
            HostGeneration candidate = _good[^1];
            try
            {
                StartWorker();
            }
            catch (LibraryLoadException e)
            {
                IsolationLog.StartFailed(_logger, FilePath, e.Detail);
                break;
            }

            LoadResult result = LoadInWorker(candidate, loadKind);
            if (result.Status == LoadStatus.Loaded)
            {
                _current = candidate;
                IsolationLog.Restarted(_logger, FilePath, candidate.Number);
                return;
            }

            if (result.Status == LoadStatus.Crashed)
            {
                ReportLost(result.Lost!, candidate, duringLoad: true);
                loadKind = NativeContract.Rollback;
                continue;
            }

            // It loads no more (its nr_load refuses what a newer generation left in the block): not a crash, but not usable.
            _worker?.Shutdown(_options.CallTimeout);
            _worker?.Dispose();
            _worker = null;
            _good.Remove(candidate);
            _shadows.TryDeleteCopy(candidate.CopyPath);
            string detail = result.Failure?.Detail ?? $"nr_load returned {result.Refusal}";
            Raise(ReloadFailed, new ReloadFailedEventArgs(
                new LibraryLoadException(FilePath, ReloadFailureReason.InitFailed, $"generation {candidate.Number} cannot be restarted: {detail}"), 0));
        }

        _current = null;
        IsolationLog.Unavailable(_logger, FilePath);
    }

    private void Adopt(HostGeneration generation)
    {
        _current = generation;
        _good.Add(generation);
        while (_good.Count > KeptGoodGenerations)
        {
            _shadows.TryDeleteCopy(_good[0].CopyPath);
            _good.RemoveAt(0);
        }
    }

    private Outcome Attempt(bool fromWatcher)
    {
        using (Locked())
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                return Outcome.Failed;
            }

            long started = Stopwatch.GetTimestamp();
            long running = _current?.Number ?? 0;
            CandidateFile candidate;
            try
            {
                candidate = CandidateFile.Read(FilePath);
            }
            catch (LibraryLoadException e) when (fromWatcher && _changes is not null && _changes.StillSettling(e))
            {
                return Outcome.NotSettled;
            }
            catch (LibraryLoadException e)
            {
                Raise(ReloadFailed, new ReloadFailedEventArgs(e, running));
                return Outcome.Failed;
            }

            if (_current is not null && string.Equals(candidate.ContentHash, _current.ContentHash, StringComparison.Ordinal))
            {
                return Outcome.Unchanged;
            }

            if (string.Equals(candidate.ContentHash, _crashedHash, StringComparison.Ordinal)
                || (fromWatcher && string.Equals(candidate.ContentHash, _lastFailedHash, StringComparison.Ordinal)))
            {
                return Outcome.Failed; // this very build crashed or failed and was reported: wait for a new one
            }

            HostGeneration next;
            try
            {
                next = WriteGeneration(candidate, _lastNumber + 1);
            }
            catch (LibraryLoadException e)
            {
                Raise(ReloadFailed, new ReloadFailedEventArgs(e, running));
                return Outcome.Failed;
            }

            _lastNumber = next.Number;
            int loadKind = NativeContract.Reload;
            if (_worker is null)
            {
                // Every earlier generation crashed: a fresh worker, on the block as the last one left it.
                try
                {
                    StartWorker();
                }
                catch (LibraryLoadException e)
                {
                    _shadows.TryDeleteCopy(next.CopyPath);
                    Raise(ReloadFailed, new ReloadFailedEventArgs(e, running));
                    return Outcome.Failed;
                }

                loadKind = _block?.EverLoaded == true ? NativeContract.Reload : NativeContract.FirstLoad;
            }

            LoadResult result;
            try
            {
                result = LoadInWorker(next, loadKind);
            }
            catch
            {
                _shadows.TryDeleteCopy(next.CopyPath); // a bug of ours, not the build's: at least leave nothing behind
                throw;
            }

            switch (result.Status)
            {
                case LoadStatus.Loaded:
                    HostGeneration? previous = _current;
                    Adopt(next);
                    _lastFailedHash = null;
                    Raise(Reloaded, new ReloadedEventArgs(FilePath, next.Number, previous?.Number ?? 0, Stopwatch.GetElapsedTime(started)));
                    return Outcome.Loaded;
                case LoadStatus.Crashed:
                    ReportLost(result.Lost!, next, duringLoad: true);
                    RestartOnGood(NativeContract.Rollback);
                    return Outcome.Failed;
                default:
                    _shadows.TryDeleteCopy(next.CopyPath);
                    _lastFailedHash = candidate.ContentHash;
                    LibraryLoadException failure = result.Failure ?? new LibraryLoadException(FilePath, ReloadFailureReason.InitFailed,
                        running == 0 ? $"nr_load returned {result.Refusal}" : $"nr_load returned {result.Refusal}; rolled back to generation {running} with its state");
                    if (_current is null)
                    {
                        _worker?.Shutdown(_options.CallTimeout);
                        _worker?.Dispose();
                        _worker = null;
                    }

                    Raise(ReloadFailed, new ReloadFailedEventArgs(failure, running));
                    return Outcome.Failed;
            }
        }
    }

    /// <summary>Leaves the lock, then raises what was queued under it (a handler's exception is logged, not thrown).</summary>
    private readonly ref struct EventScope(IsolatedLibrary owner)
    {
        public void Dispose()
        {
            Action[]? events = null;
            if (owner._events.Count > 0)
            {
                events = [.. owner._events];
                owner._events.Clear();
            }

            owner._lock.Exit();
            if (events is null)
            {
                return;
            }

            foreach (Action raise in events)
            {
                try
                {
                    raise();
                }
                catch (Exception e)
                {
                    IsolationLog.HandlerError(owner._logger, e, owner.FilePath);
                }
            }
        }
    }

    private sealed record ExportName(int Id, byte[] Utf8);

    private readonly record struct LoadResult(LoadStatus Status, LibraryLoadException? Failure = null, int Refusal = 0, WorkerLostException? Lost = null);

    /// <summary>A generation as the host knows it: its number, its copy (kept while it may be restarted) and its hash.</summary>
    private sealed class HostGeneration(long number, string copyPath, string contentHash)
    {
        public long Number { get; } = number;

        public string CopyPath { get; } = copyPath;

        public string ContentHash { get; } = contentHash;

        /// <summary>Its <c>nr_load</c> accepted the block at least once (so the block may hold its writes).</summary>
        public bool LoadCompleted { get; set; }

        public TimeSpan LoadDuration { get; set; }
    }
}
