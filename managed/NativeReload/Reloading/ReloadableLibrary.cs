using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NativeReload.Calling;
using NativeReload.Loading;
using NativeReload.ShadowCopying;
using NativeReload.Watching;

namespace NativeReload.Reloading;

/// <summary>
/// A native library that is reloaded when its file changes, without restarting the process.
/// </summary>
/// <typeparam name="TExports">
/// The host's description of the exports it calls, typically a class of <c>delegate* unmanaged[Cdecl]</c>
/// fields, built by the bind callback once per generation so no call ever looks a symbol up.
/// </typeparam>
/// <remarks>
/// <para>The lifecycle, one step per type (see <c>docs/architecture.md</c>):
/// file change (<see cref="LibraryFileWatcher"/>) → quiet period and completeness checks
/// (<see cref="CandidateFile"/>) → private copy (<see cref="ShadowCopyDirectory"/>) → load and bind
/// (<see cref="GenerationLoader"/>) → swap (this type: at once, or at the host's safe point) → retire the old
/// generation after its last call returned (<see cref="ReaderSlots"/>).</para>
/// <para>A failed load never touches the current generation: it keeps serving, and <see cref="ReloadFailed"/>
/// says which file failed and why. The next change is tried again.</para>
/// <para><b>Thread-safety:</b> all members are thread-safe. Events are raised on the background reload thread,
/// except <see cref="Reloaded"/> and <see cref="GenerationRetired"/> in <see cref="ApplyMode.AtSafePoint"/> mode,
/// which are raised by <see cref="ApplyPendingReload"/> on the caller's thread.</para>
/// </remarks>
public sealed class ReloadableLibrary<TExports> : IDisposable
    where TExports : class
{
    private readonly Func<ExportResolver, TExports> _bind;
    private readonly ReloadableLibraryOptions _options;
    private readonly ILogger _logger;
    private readonly ShadowCopyDirectory _shadows;
    private readonly Lock _attemptLock = new();
    private readonly Lock _swapLock = new();
    private readonly List<LibraryGeneration> _stuck = [];
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly LibraryFileWatcher? _watcher;
    private readonly Thread? _worker;
    private volatile LibraryGeneration<TExports>? _current;
    private LibraryGeneration<TExports>? _pending;
    private long _lastNumber;
    private long _lastChangeTimestamp;
    private int _lastChangeKind;
    private string? _lastFailedHash;
    private string? _lastReportedFailure;
    private int _disposed;

    /// <summary>
    /// Loads <paramref name="filePath"/> as generation 1 and, unless disabled in the options, starts watching it.
    /// </summary>
    /// <param name="filePath">The library to load: the build output, which is never loaded itself, only copied.</param>
    /// <param name="bind">Resolves the exports of a freshly loaded generation (see <see cref="ExportResolver"/>).
    /// It runs once per generation, before that generation can become current.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <param name="logger">Receives reloads, failures and diagnostics; null for none.</param>
    /// <exception cref="LibraryLoadException">The first load failed; the message names the file and the reason.</exception>
    public ReloadableLibrary(string filePath, Func<ExportResolver, TExports> bind, ReloadableLibraryOptions? options = null, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(filePath);
        ArgumentNullException.ThrowIfNull(bind);
        FilePath = Path.GetFullPath(filePath);
        _bind = bind;
        _options = options ?? new ReloadableLibraryOptions();
        _logger = logger ?? NullLogger.Instance;
        _shadows = ShadowCopyDirectory.Create(_options.ShadowRoot, _logger);
        try
        {
            long started = Stopwatch.GetTimestamp();
            CandidateFile candidate = CandidateFile.Read(FilePath);
            LibraryGeneration<TExports> first = GenerationLoader.Load(candidate, 1, _shadows, _bind);
            first.LoadDuration = Stopwatch.GetElapsedTime(started);
            _current = first;
            _lastNumber = 1;
            Log.FirstLoad(_logger, FilePath, first.LoadDuration.TotalMilliseconds);
        }
        catch
        {
            _shadows.Dispose();
            throw;
        }

        if (_options.WatchForChanges)
        {
            _lastChangeTimestamp = Stopwatch.GetTimestamp();
            _watcher = new LibraryFileWatcher(FilePath, _options.PollInterval, OnFileChanged, _logger);
            _worker = new Thread(WorkerLoop) { IsBackground = true, Name = "NativeReload " + Path.GetFileName(FilePath) };
            _worker.Start();
        }
    }

    /// <summary>A new generation became current.</summary>
    public event EventHandler<ReloadedEventArgs>? Reloaded;

    /// <summary>A change could not be loaded; the current generation keeps serving.</summary>
    public event EventHandler<ReloadFailedEventArgs>? ReloadFailed;

    /// <summary>An old generation was freed; says whether the OS really unmapped it.</summary>
    public event EventHandler<GenerationRetiredEventArgs>? GenerationRetired;

    /// <summary>The library file being watched (full path).</summary>
    public string FilePath { get; }

    /// <summary>The shadow directory that holds this library's loaded copies.</summary>
    public string ShadowDirectory => _shadows.Path;

    /// <summary>
    /// The current generation. In <see cref="ApplyMode.AtSafePoint"/> mode it changes only inside
    /// <see cref="ApplyPendingReload"/>, so the thread that calls that may use it freely in between.
    /// In <see cref="ApplyMode.Immediately"/> mode use <see cref="Enter"/> instead: a generation read here may be
    /// freed by a reload at any moment.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The library was disposed.</exception>
    public LibraryGeneration<TExports> Current => _current ?? throw new ObjectDisposedException(GetType().Name, $"{FilePath} was disposed");

    /// <summary>True when a validated generation waits for <see cref="ApplyPendingReload"/>.</summary>
    public bool HasPendingReload => Volatile.Read(ref _pending) is not null;

    /// <summary>The last failure to load a change, or null after a successful load.</summary>
    public LibraryLoadException? LastFailure { get; private set; }

    /// <summary>
    /// Opens a call scope on the current generation: until the scope is disposed, that generation is not freed,
    /// whatever reloads happen. Costs two plain memory writes and a re-read; no lock, no interlocked instruction.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The library was disposed.</exception>
    /// <exception cref="InvalidOperationException">More than <see cref="ReaderSlots.MaxDepth"/> scopes are open on this thread.</exception>
    /// <remarks><b>Safety:</b> see <see cref="GenerationScope{TExports}"/>: use the exports only inside the scope.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public GenerationScope<TExports> Enter()
    {
        ReaderSlots.ThreadSlot slot = ReaderSlots.Current();
        int depth = slot.Depth;
        if ((uint)depth >= ReaderSlots.MaxDepth)
        {
            ThrowTooDeep();
        }

        ref LibraryGeneration? entry = ref slot.Entries[depth].Generation;
        LibraryGeneration<TExports>? generation;
        do
        {
            generation = _current;
            if (generation is null)
            {
                Volatile.Write(ref entry, null);
                ThrowDisposed();
            }

            Volatile.Write(ref entry, generation);
        }
        while (!ReferenceEquals(generation, _current));

        slot.Depth = depth + 1;
        return new GenerationScope<TExports>(slot, depth, generation!);
    }

    /// <summary>
    /// Makes a validated pending generation current and retires the old one (safe-point mode). Call it where no call
    /// into the library is in progress on this thread, e.g. at the top of a frame. Cheap when nothing is pending.
    /// </summary>
    /// <returns>True when a new generation became current.</returns>
    public bool ApplyPendingReload()
    {
        if (Volatile.Read(ref _pending) is null)
        {
            return false;
        }

        LibraryGeneration<TExports>? next;
        LibraryGeneration<TExports>? old;
        lock (_swapLock)
        {
            next = Interlocked.Exchange(ref _pending, null);
            old = _current;
            if (next is null || old is null)
            {
                return false;
            }

            _current = next;
        }

        RaiseReloaded(next, old);
        Retire(old);
        return true;
    }

    /// <summary>
    /// Reads and loads the file now, on the calling thread, without waiting for the watcher. A failure is reported
    /// through <see cref="ReloadFailed"/> and <see cref="LastFailure"/> like any other.
    /// </summary>
    /// <returns>What happened.</returns>
    public ReloadOutcome Reload() => Attempt(fromWatcher: false) switch
    {
        AttemptResult.Loaded => ReloadOutcome.Loaded,
        AttemptResult.Unchanged => ReloadOutcome.Unchanged,
        _ => ReloadOutcome.Failed,
    };

    /// <summary>Stops watching, frees every generation after its last call returned, and deletes the shadow copies.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stop.Cancel();
        _watcher?.Dispose();
        if (_worker is not null && _worker != Thread.CurrentThread)
        {
            _worker.Join();
        }

        lock (_attemptLock)
        {
            if (Interlocked.Exchange(ref _pending, null) is { } pending)
            {
                FreeAndDelete(pending);
            }

            LibraryGeneration<TExports>? current;
            lock (_swapLock)
            {
                current = _current;
                _current = null;
            }

            if (current is not null)
            {
                Retire(current);
            }

            foreach (LibraryGeneration stuck in _stuck)
            {
                if (ReaderSlots.WaitUntilUnused(stuck, TimeSpan.FromSeconds(1)))
                {
                    FreeAndDelete(stuck);
                }
            }

            _stuck.Clear();
        }

        _shadows.Dispose();
        _stop.Dispose();
        _signal.Dispose();
    }

    private enum AttemptResult
    {
        Loaded,
        Unchanged,
        Failed,
        NotSettled,
    }

    private void OnFileChanged(FileChangeKind kind)
    {
        Volatile.Write(ref _lastChangeKind, (int)kind);
        Volatile.Write(ref _lastChangeTimestamp, Stopwatch.GetTimestamp());
        if (_signal.CurrentCount == 0 && Volatile.Read(ref _disposed) == 0)
        {
            try
            {
                _signal.Release();
            }
            catch (ObjectDisposedException)
            {
                // raced with Dispose: nothing left to reload
            }
        }
    }

    private void WorkerLoop()
    {
        CancellationToken token = _stop.Token;
        TimeSpan wait = Timeout.InfiniteTimeSpan;
        while (!token.IsCancellationRequested)
        {
            try
            {
                bool signalled = _signal.Wait(wait, token);
                if (!signalled && wait == Timeout.InfiniteTimeSpan)
                {
                    continue;
                }

                WaitForQuiet(token);
                token.ThrowIfCancellationRequested();
                wait = Attempt(fromWatcher: true) == AttemptResult.NotSettled ? _options.QuietPeriod : Timeout.InfiniteTimeSpan;
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e)
            {
                // Never let the reload thread die: the current generation must keep serving.
                Log.WorkerError(_logger, e, FilePath);
                wait = Timeout.InfiniteTimeSpan;
            }
        }
    }

    /// <summary>Sleeps until no change has been seen for the quiet time that the last kind of change needs.</summary>
    private void WaitForQuiet(CancellationToken token)
    {
        while (true)
        {
            var kind = (FileChangeKind)Volatile.Read(ref _lastChangeKind);
            TimeSpan required = kind == FileChangeKind.Renamed ? _options.RenameDebounce : _options.QuietPeriod;
            TimeSpan since = Stopwatch.GetElapsedTime(Volatile.Read(ref _lastChangeTimestamp));
            if (since >= required)
            {
                return;
            }

            if (token.WaitHandle.WaitOne(required - since))
            {
                return;
            }
        }
    }

    private AttemptResult Attempt(bool fromWatcher)
    {
        lock (_attemptLock)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                return AttemptResult.Failed;
            }

            long started = Stopwatch.GetTimestamp();
            CandidateFile candidate;
            try
            {
                candidate = CandidateFile.Read(FilePath);
            }
            catch (LibraryLoadException e) when (fromWatcher && e.IsTransient
                && Stopwatch.GetElapsedTime(Volatile.Read(ref _lastChangeTimestamp)) < _options.SettleTimeout)
            {
                Log.NotSettled(_logger, FilePath, e.Detail);
                return AttemptResult.NotSettled;
            }
            catch (LibraryLoadException e)
            {
                ReportFailure(e, FileStamp.Capture(FilePath).ToString());
                return AttemptResult.Failed;
            }

            LibraryGeneration<TExports> newest = Volatile.Read(ref _pending) ?? Current;
            if (string.Equals(candidate.ContentHash, newest.ContentHash, StringComparison.Ordinal))
            {
                Log.ContentUnchanged(_logger, FilePath, newest.Number);
                ClearFailure();
                return AttemptResult.Unchanged;
            }

            if (fromWatcher && string.Equals(candidate.ContentHash, _lastFailedHash, StringComparison.Ordinal))
            {
                return AttemptResult.Failed; // the same bytes already failed and were reported
            }

            LibraryGeneration<TExports> next;
            try
            {
                next = GenerationLoader.Load(candidate, _lastNumber + 1, _shadows, _bind);
            }
            catch (LibraryLoadException e)
            {
                _lastFailedHash = candidate.ContentHash;
                ReportFailure(e, candidate.ContentHash);
                return AttemptResult.Failed;
            }

            next.LoadDuration = Stopwatch.GetElapsedTime(started);
            _lastNumber = next.Number;
            ClearFailure();
            Publish(next);
            return AttemptResult.Loaded;
        }
    }

    private void Publish(LibraryGeneration<TExports> next)
    {
        if (_options.ApplyMode == ApplyMode.AtSafePoint)
        {
            // A pending generation was never current, so no call can be inside it: free it at once.
            if (Interlocked.Exchange(ref _pending, next) is { } superseded)
            {
                FreeAndDelete(superseded);
            }

            Log.Pending(_logger, FilePath, next.Number);
            return;
        }

        LibraryGeneration<TExports>? old;
        lock (_swapLock)
        {
            old = _current;
            _current = next;
        }

        if (old is not null)
        {
            RaiseReloaded(next, old);
            Retire(old);
        }
    }

    private void Retire(LibraryGeneration old)
    {
        if (!ReaderSlots.WaitUntilUnused(old, _options.RetireTimeout))
        {
            Log.RetireTimedOut(_logger, FilePath, old.Number, _options.RetireTimeout.TotalSeconds);
            lock (_swapLock)
            {
                _stuck.Add(old);
            }

            return;
        }

        FreeAndDelete(old);
    }

    private void FreeAndDelete(LibraryGeneration generation)
    {
        generation.Free();
        bool? mapped = MappingInspector.IsMapped(generation.ShadowPath);
        _shadows.TryDeleteCopy(generation.ShadowPath);
        bool? unmapped = mapped is null ? null : !mapped.Value;
        if (unmapped == false)
        {
            Log.StayedMapped(_logger, FilePath, generation.Number);
        }
        else
        {
            Log.Freed(_logger, FilePath, generation.Number);
        }

        Raise(GenerationRetired, new GenerationRetiredEventArgs(FilePath, generation.Number, unmapped));
    }

    private void ReportFailure(LibraryLoadException failure, string key)
    {
        LastFailure = failure;
        string reportKey = $"{failure.Reason}|{failure.Detail}|{key}";
        if (string.Equals(reportKey, _lastReportedFailure, StringComparison.Ordinal))
        {
            return; // already said; say each failure once
        }

        _lastReportedFailure = reportKey;
        long running = _current?.Number ?? 0;
        Log.ReloadFailed(_logger, FilePath, failure.Detail, running);
        Raise(ReloadFailed, new ReloadFailedEventArgs(failure, running));
    }

    private void ClearFailure()
    {
        LastFailure = null;
        _lastFailedHash = null;
        _lastReportedFailure = null;
    }

    private void RaiseReloaded(LibraryGeneration next, LibraryGeneration old)
    {
        Log.Reloaded(_logger, FilePath, next.Number, next.LoadDuration.TotalMilliseconds);
        Raise(Reloaded, new ReloadedEventArgs(FilePath, next.Number, old.Number, next.LoadDuration));
    }

    private void Raise<TArgs>(EventHandler<TArgs>? handler, TArgs args)
    {
        try
        {
            handler?.Invoke(this, args);
        }
        catch (Exception e)
        {
            Log.HandlerError(_logger, e, FilePath);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowTooDeep() =>
        throw new InvalidOperationException($"More than {ReaderSlots.MaxDepth} generation scopes are open on this thread; dispose each scope (a using statement) before opening another.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowDisposed() => throw new ObjectDisposedException(GetType().Name, $"{FilePath} was disposed");
}
