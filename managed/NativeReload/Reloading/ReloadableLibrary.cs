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
/// <para><b>Thread-safety:</b> all members are thread-safe. Events are raised on the thread that did the work: the
/// background reload thread (or the caller of <see cref="Reload"/>); in <see cref="ApplyMode.AtSafePoint"/> mode
/// <see cref="Reloaded"/>, and <see cref="GenerationRetired"/> for the generation it replaced, are raised by
/// <see cref="ApplyPendingReload"/> on its caller's thread (a pending generation superseded by a newer one before any
/// safe point is retired on the reload thread).</para>
/// <para><b>Plugin contract:</b> a library that implements <c>native/include/nativereload.h</c> gets a host-owned
/// <see cref="State"/> block and its <c>nr_load</c>/<c>nr_unload</c> hooks called while no thread is inside it (new
/// calls wait for the moment of the swap); a refusing <c>nr_load</c> rolls back to the old generation
/// (<c>docs/plugin-contract.md</c>). In safe-point mode that happens inside <see cref="ApplyPendingReload"/>.</para>
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
    private readonly SettledChangeLoop? _changes;
    private volatile LibraryGeneration<TExports>? _current;
    private volatile LibraryGeneration<TExports>? _swapping; // the old generation while plugin hooks run; _current is null then
    private LibraryGeneration<TExports>? _pending;
    private Plugins.StateBlock? _state;
    private long _lastNumber;
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
            LibraryGeneration<TExports> first = GenerationLoader.Load(candidate, 1, _shadows, _bind, _options.ExpectedApiVersion, _logger);
            RunFirstLoadHook(first);
            first.LoadDuration = Stopwatch.GetElapsedTime(started);
            _current = first;
            _lastNumber = 1;
            Log.FirstLoad(_logger, FilePath, first.LoadDuration.TotalMilliseconds);
        }
        catch
        {
            _state?.Dispose();
            _shadows.Dispose();
            throw;
        }

        if (_options.WatchForChanges)
        {
            _changes = new SettledChangeLoop(
                FilePath,
                "NativeReload " + Path.GetFileName(FilePath),
                _options,
                () => Attempt(fromWatcher: true) == AttemptResult.NotSettled,
                e => Log.WorkerError(_logger, e, FilePath),
                _logger);
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
    /// In <see cref="ApplyMode.Immediately"/> mode use <see cref="Enter()"/> instead: a generation read here may be
    /// freed by a reload at any moment.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The library was disposed.</exception>
    public LibraryGeneration<TExports> Current => _current ?? _swapping ?? throw new ObjectDisposedException(GetType().Name, $"{FilePath} was disposed");

    /// <summary>
    /// The host-owned state block of the plugin contract (<c>native/include/nativereload.h</c>): it survives every
    /// reload and is freed on dispose. Null while no generation asked for state.
    /// </summary>
    public Plugins.StateBlock? State => _state;

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
    public GenerationScope<TExports> Enter() => Enter(ReaderSlots.Current());

    /// <summary>
    /// <see cref="Enter()"/> with the calling thread's slot fetched once (<see cref="CallerSlot.ForCurrentThread"/>),
    /// which saves the thread-local lookup on every call in a hot loop.
    /// </summary>
    /// <param name="caller">The calling thread's own slot.</param>
    /// <exception cref="ObjectDisposedException">The library was disposed.</exception>
    /// <exception cref="InvalidOperationException">More than <see cref="ReaderSlots.MaxDepth"/> scopes are open on this thread.</exception>
    /// <remarks><b>Safety:</b> <paramref name="caller"/> must belong to the calling thread (see <see cref="CallerSlot"/>);
    /// use the exports only inside the scope (see <see cref="GenerationScope{TExports}"/>).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public GenerationScope<TExports> Enter(CallerSlot caller)
    {
        Debug.Assert(caller.OwnerThreadId == Environment.CurrentManagedThreadId, "a CallerSlot must only be used on the thread that fetched it");
        CallerSlot slot = caller;
        int depth = slot.Depth;
        if ((uint)depth >= ReaderSlots.MaxDepth)
        {
            ThrowTooDeep();
        }

        ref long entry = ref slot.At(depth);
        LibraryGeneration<TExports>? generation;
        while (true)
        {
            generation = _current;
            if (generation is null)
            {
                // Disposed, or plugin hooks are running (no call may enter then): wait for the swap to finish.
                Volatile.Write(ref entry, 0);
                WaitWhileSwapping();
                continue;
            }

            Volatile.Write(ref entry, generation.UniqueId);
            if (ReferenceEquals(generation, _current))
            {
                break;
            }
        }

        slot.Depth = depth + 1;
        return new GenerationScope<TExports>(ref entry, slot, depth, generation);
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

        LibraryGeneration<TExports>? next = Interlocked.Exchange(ref _pending, null);
        return next is not null && SwapIn(next);
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

        _changes?.Dispose();

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
                if (current.Plugin is not null && ReaderSlots.WaitUntilUnused(current, _options.RetireTimeout))
                {
                    CallUnload(current); // give the state back before the code goes away
                }

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
        _state?.Dispose();
    }

    private enum AttemptResult
    {
        Loaded,
        Unchanged,
        Failed,
        NotSettled,
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
            catch (LibraryLoadException e) when (fromWatcher && _changes is not null && _changes.StillSettling(e))
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
                next = GenerationLoader.Load(candidate, _lastNumber + 1, _shadows, _bind, _options.ExpectedApiVersion, _logger);
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
            return Publish(next) ? AttemptResult.Loaded : AttemptResult.Failed;
        }
    }

    /// <summary>Makes <paramref name="next"/> pending (safe-point mode) or current; false when its load hook refused it.</summary>
    private bool Publish(LibraryGeneration<TExports> next)
    {
        if (_options.ApplyMode == ApplyMode.AtSafePoint)
        {
            // A pending generation was never current, so no call can be inside it: free it at once.
            if (Interlocked.Exchange(ref _pending, next) is { } superseded)
            {
                FreeAndDelete(superseded);
            }

            Log.Pending(_logger, FilePath, next.Number);
            return true;
        }

        return SwapIn(next);
    }

    /// <summary>Makes <paramref name="next"/> current. Returns false when its load hook refused and the old generation was kept.</summary>
    private bool SwapIn(LibraryGeneration<TExports> next)
    {
        LibraryGeneration<TExports>? old;
        lock (_swapLock)
        {
            old = _current;
            if (old is null)
            {
                FreeAndDelete(next); // disposed meanwhile
                return false;
            }

            if (old.Plugin is not null || next.Plugin is not null)
            {
                return SwapWithHooks(old, next);
            }

            _current = next;
        }

        RaiseReloaded(next, old);
        Retire(old);
        return true;
    }

    /// <summary>
    /// The plugin contract's swap (see nativereload.h): close the door to new calls, wait until no call is inside the
    /// old generation, old.nr_unload, new.nr_load; on refusal old.nr_load(ROLLBACK) and the old generation resumes.
    /// Caller holds <c>_swapLock</c>.
    /// </summary>
    private bool SwapWithHooks(LibraryGeneration<TExports> old, LibraryGeneration<TExports> next)
    {
        _swapping = old;
        _current = null; // Enter() waits from now on
        if (!ReaderSlots.WaitUntilUnused(old, _options.RetireTimeout))
        {
            _current = old;
            _swapping = null;
            FreeAndDelete(next);
            ReportFailure(new LibraryLoadException(FilePath, ReloadFailureReason.InitFailed,
                $"a call stayed inside generation {old.Number} for {_options.RetireTimeout.TotalSeconds:F0} s, so its state could not be handed over; reload abandoned"), next.ContentHash);
            return false;
        }

        CallUnload(old);
        Plugins.StateBlock current = _state ??= Plugins.StateBlock.Allocate(0);
        Plugins.StateBlock target = current.GrownTo(next.Plugin?.StateSize ?? 0);
        int result = CallLoad(next, target, NativeReload.Plugins.NativeContract.Reload);
        if (result == 0)
        {
            if (!ReferenceEquals(target, current))
            {
                current.Dispose();
                _state = target;
            }

            _current = next;
            _swapping = null;
            RaiseReloaded(next, old);
            FreeAndDelete(old); // nobody is inside it: the door was closed
            return true;
        }

        // Refused: the old generation takes its own state back, untouched by the host.
        if (!ReferenceEquals(target, current))
        {
            target.Dispose();
        }

        CallLoad(old, current, NativeReload.Plugins.NativeContract.Rollback);
        _current = old;
        _swapping = null;
        _lastFailedHash = next.ContentHash;
        FreeAndDelete(next);
        ReportFailure(new LibraryLoadException(FilePath, ReloadFailureReason.InitFailed,
            $"nr_load returned {result}; rolled back to generation {old.Number} with its state"), next.ContentHash);
        return false;
    }

    private void RunFirstLoadHook(LibraryGeneration<TExports> first)
    {
        if (first.Plugin is null)
        {
            return;
        }

        _state = Plugins.StateBlock.Allocate(first.Plugin.StateSize);
        int result = CallLoad(first, _state, NativeReload.Plugins.NativeContract.FirstLoad);
        if (result != 0)
        {
            FreeAndDelete(first);
            throw new LibraryLoadException(FilePath, ReloadFailureReason.InitFailed, $"nr_load returned {result} on the first load");
        }
    }

    private static int CallLoad(LibraryGeneration generation, Plugins.StateBlock block, int loadKind)
    {
        if (generation.Plugin is not { } plugin)
        {
            return 0;
        }

        NativeReload.Plugins.NativeContract.HostState state = block.ToHostState(loadKind, generation.Number);
        int result = plugin.Load(ref state);
        if (result == 0)
        {
            generation.LastLoadKind = loadKind;
            if (plugin.Info is not null)
            {
                block.Layout = plugin.StateLayout;
            }
        }

        return result;
    }

    private void CallUnload(LibraryGeneration generation)
    {
        if (generation.Plugin is not { } plugin || _state is null)
        {
            return;
        }

        NativeReload.Plugins.NativeContract.HostState state = _state.ToHostState(generation.LastLoadKind, generation.Number);
        int result = plugin.Unload(ref state);
        if (result != 0)
        {
            Log.UnloadHookFailed(_logger, FilePath, generation.Number, result);
        }
    }

    private void WaitWhileSwapping()
    {
        var spinner = default(SpinWait);
        while (_current is null)
        {
            if (_swapping is null && Volatile.Read(ref _disposed) != 0)
            {
                ThrowDisposed();
            }

            spinner.SpinOnce(sleep1Threshold: 20);
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
