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
/// <para><b>Thread-safety:</b> all members are thread-safe. Events are raised after the library's locks are released
/// (a handler may call <see cref="Dispose"/>), on the thread that did the work: a thread-pool thread for a change the
/// watcher noticed (or the caller of <see cref="Reload"/>; a generation freed late because a call was still inside it
/// is reported from a thread-pool thread too); in <see cref="ApplyMode.AtSafePoint"/> mode
/// <see cref="Reloaded"/>, and <see cref="GenerationRetired"/> for the generation it replaced, are raised by
/// <see cref="ApplyPendingReload"/> on its caller's thread (a pending generation superseded by a newer one before any
/// safe point is retired on the thread that loaded the newer one).</para>
/// <para><b>Plugin contract:</b> a library that implements <c>native/include/nativereload.h</c> gets a host-owned
/// <see cref="State"/> block and its <c>nr_load</c>/<c>nr_unload</c> hooks called while no thread is inside it (new
/// calls wait for the moment of the swap); a refusing <c>nr_load</c> rolls back to the old generation
/// (<c>docs/plugin-contract.md</c>). In safe-point mode that happens inside <see cref="ApplyPendingReload"/>.</para>
/// </remarks>
public sealed class ReloadableLibrary<TExports> : IDisposable
    where TExports : class
{
    // The lifecycle, in one place. A library is in one of four states:
    //
    //   Serving    _current = G (a live generation), _swapping = null. Enter() and Current give G.
    //   Pending    Serving, plus _pending = P (safe-point mode): validated, loaded, never current, no call inside.
    //   Swapping   plugin hooks run: _current = null (the door: Enter() waits), _swapping = the old generation.
    //              Only SwapWithHooks enters it, under _swapLock, and its finally always leaves it (Serving).
    //   Disposed   _disposed = 1, _current = _swapping = _pending = null. Generations a call is still inside, and the
    //              state block they can reach, are held by _stuck until the call returns (then freed on a timer).
    //
    // Invariants:
    //   I1  A generation is freed only when it is none of _current/_swapping/_pending and no caller slot names it.
    //   I2  The state block is freed only when no loaded generation holds it (HoldsState), i.e. after the last
    //       stuck generation drained; and the block object behind State is the same for the library's whole life.
    //   I3  Every exit from a swap (return, refusal, exception) leaves _current set to a live generation unless disposed.
    //   I4  No logger or event handler runs while _attemptLock or _swapLock is held: they go through an Outbox that is
    //       delivered after the locks are released, and nothing they throw escapes into the lifecycle.
    //   I5  Every generation that was loaded is, on every path, either current, pending, freed, or in _stuck.
    private readonly Func<ExportResolver, TExports> _bind;
    private readonly ReloadableLibraryOptions _options;
    private readonly ILogger _logger;
    private readonly ShadowCopyDirectory _shadows;
    private readonly Lock _attemptLock = new();   // one attempt (read → load → publish) at a time; Dispose takes it too
    private readonly Lock _swapLock = new();      // changes of _current and _swapping; Dispose takes it too
    private readonly StuckGenerations _stuck;
    private readonly SettledChangeLoop? _changes;
    private volatile LibraryGeneration<TExports>? _current;
    private volatile LibraryGeneration<TExports>? _swapping;
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
        _logger = SafeLogger.Wrap(logger); // a throwing logger must not take a reload (or the process) down
        _shadows = ShadowCopyDirectory.Create(_options.ShadowRoot, _logger);
        _stuck = new StuckGenerations(FreeDrained, ReleaseOwned, _logger, FilePath);
        var outbox = new Outbox();
        try
        {
            long started = Stopwatch.GetTimestamp();
            CandidateFile candidate = CandidateFile.Read(FilePath);
            LibraryGeneration<TExports> first = GenerationLoader.Load(candidate, 1, _shadows, _bind, _options.ExpectedApiVersion, _logger);
            RunFirstLoadHook(first, outbox);
            first.LoadDuration = Stopwatch.GetElapsedTime(started);
            _current = first;
            _lastNumber = 1;
            outbox.Add(() => Log.FirstLoad(_logger, FilePath, first.LoadDuration.TotalMilliseconds));
        }
        catch
        {
            _state?.Free();
            _shadows.Dispose();
            throw;
        }
        finally
        {
            outbox.Deliver(_logger, FilePath);
        }

        if (_options.WatchForChanges)
        {
            _changes = new SettledChangeLoop(
                FilePath,
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
    /// freed by a reload at any moment. While plugin hooks run it is the generation being replaced.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The library was disposed.</exception>
    public LibraryGeneration<TExports> Current
    {
        get
        {
            var spinner = default(SpinWait);
            while (true)
            {
                // A swap writes _swapping before it clears _current, and sets _current before it clears _swapping:
                // both null only for the instant a swap ends (read again) or after Dispose.
                if (_current is { } current)
                {
                    return current;
                }

                if (_swapping is { } swapping)
                {
                    return swapping;
                }

                if (Volatile.Read(ref _disposed) != 0)
                {
                    ThrowDisposed();
                }

                spinner.SpinOnce(sleep1Threshold: -1);
            }
        }
    }

    /// <summary>
    /// The host-owned state block of the plugin contract (<c>native/include/nativereload.h</c>): the same object for the
    /// library's whole life, also when a reload grows it; freed after dispose, once no call can reach it (then its
    /// <see cref="Plugins.StateBlock.Bytes"/> throws <see cref="ObjectDisposedException"/>). Null while no generation
    /// asked for state.
    /// </summary>
    public Plugins.StateBlock? State => _state;

    /// <summary>True when a validated generation waits for <see cref="ApplyPendingReload"/>.</summary>
    public bool HasPendingReload => Volatile.Read(ref _pending) is not null;

    /// <summary>The last failure to load a change, or null after a successful load.</summary>
    public LibraryLoadException? LastFailure { get; private set; }

    /// <summary>
    /// Generations retired while a call was still inside them, kept loaded until it returns (then freed within
    /// about 50 ms). 0 in normal operation.
    /// </summary>
    public int StuckGenerationCount => _stuck.Count;

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
        slot.Ticket++;
        // Initialised although every path assigns them: lets mutation testing change this loop without a compile error.
        LibraryGeneration<TExports>? generation = null;
        long value = 0;
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

            value = slot.EntryFor(generation);
            Volatile.Write(ref entry, value);
            if (ReferenceEquals(generation, _current))
            {
                break;
            }
        }

        slot.Depth = depth + 1;
        return new GenerationScope<TExports>(ref entry, slot, depth, value, generation);
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
        if (next is null)
        {
            return false;
        }

        var outbox = new Outbox();
        LibraryGeneration? replaced = null;
        try
        {
            return SwapIn(next, outbox, ref replaced);
        }
        finally
        {
            outbox.Deliver(_logger, FilePath);
            RetireReplaced(replaced);
        }
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

    /// <summary>
    /// Stops watching, frees every generation after its last call returned, and deletes the shadow copies. A generation
    /// that a call is still inside after <see cref="ReloadableLibraryOptions.RetireTimeout"/> (or at once, when the
    /// disposing thread is itself inside it) is not freed: it stays loaded with its state block and is freed, with its
    /// <c>nr_unload</c>, when the call returns (<see cref="GenerationRetired"/> says so, from a thread-pool thread).
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        var outbox = new Outbox();
        try
        {
            _changes?.Dispose();
            lock (_attemptLock)
            {
                LibraryGeneration<TExports>? pending = Interlocked.Exchange(ref _pending, null);
                LibraryGeneration<TExports>? current;
                lock (_swapLock)
                {
                    current = _current;
                    _current = null;
                }

                if (pending is not null)
                {
                    FreeAndDelete(pending, outbox); // never current: no call can be inside it
                }

                if (current is not null)
                {
                    RetireOnDispose(current, outbox);
                }
            }
        }
        finally
        {
            _stuck.Close(); // frees the state block and the shadow directory now, or when the last stuck call returns
            outbox.Deliver(_logger, FilePath);
        }
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
        var outbox = new Outbox();
        LibraryGeneration? replaced = null;
        try
        {
            lock (_attemptLock)
            {
                return AttemptLocked(fromWatcher, outbox, ref replaced);
            }
        }
        finally
        {
            outbox.Deliver(_logger, FilePath); // Reloaded first: the host hears of the new generation at once
            RetireReplaced(replaced);          // then the old one is freed once its calls return (no lock held)
        }
    }

    /// <summary>Retires the generation a swap replaced, outside every lock (it may wait up to the retire timeout).</summary>
    private void RetireReplaced(LibraryGeneration? replaced)
    {
        if (replaced is null)
        {
            return;
        }

        var outbox = new Outbox();
        try
        {
            Retire(replaced, outbox);
        }
        finally
        {
            outbox.Deliver(_logger, FilePath);
        }
    }

    /// <summary>Read → check → load → publish. Every failure is reported once and leaves the serving generation as it was.</summary>
    private AttemptResult AttemptLocked(bool fromWatcher, Outbox outbox, ref LibraryGeneration? replaced)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return AttemptResult.Failed;
        }

        long started = Stopwatch.GetTimestamp();
        CandidateFile candidate;
        try
        {
            InjectFault(ReloadStep.Read);
            candidate = CandidateFile.Read(FilePath);
        }
        catch (LibraryLoadException e) when (fromWatcher && _changes is not null && _changes.StillSettling(e))
        {
            outbox.Add(() => Log.NotSettled(_logger, FilePath, e.Detail));
            return AttemptResult.NotSettled;
        }
        catch (LibraryLoadException e)
        {
            ReportFailure(e, FileStamp.Capture(FilePath).ToString(), outbox);
            return AttemptResult.Failed;
        }
        catch (Exception e)
        {
            ReportFailure(HostFailure(e, "while reading the file"), FileStamp.Capture(FilePath).ToString(), outbox);
            return AttemptResult.Failed;
        }

        // _current is null only while hooks run (then _swapping serves) or once disposed.
        LibraryGeneration<TExports>? newest = Volatile.Read(ref _pending) ?? _current ?? _swapping;
        if (newest is null)
        {
            return AttemptResult.Failed;
        }

        if (string.Equals(candidate.ContentHash, newest.ContentHash, StringComparison.Ordinal))
        {
            outbox.Add(() => Log.ContentUnchanged(_logger, FilePath, newest.Number));
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
            InjectFault(ReloadStep.Load);
            next = GenerationLoader.Load(candidate, _lastNumber + 1, _shadows, _bind, _options.ExpectedApiVersion, _logger);
        }
        catch (Exception e)
        {
            _lastFailedHash = candidate.ContentHash;
            ReportFailure(e as LibraryLoadException ?? HostFailure(e, "while loading the new build"), candidate.ContentHash, outbox);
            return AttemptResult.Failed;
        }

        next.LoadDuration = Stopwatch.GetElapsedTime(started);
        _lastNumber = next.Number;
        if (Volatile.Read(ref _disposed) != 0)
        {
            FreeAndDelete(next, outbox); // disposed while it loaded (from inside the bind callback, say)
            return AttemptResult.Failed;
        }

        ClearFailure();
        return Publish(next, outbox, ref replaced) ? AttemptResult.Loaded : AttemptResult.Failed;
    }

    /// <summary>Makes <paramref name="next"/> pending (safe-point mode) or current; false when it was refused or the library disposed.</summary>
    private bool Publish(LibraryGeneration<TExports> next, Outbox outbox, ref LibraryGeneration? replaced)
    {
        if (_options.ApplyMode != ApplyMode.AtSafePoint)
        {
            return SwapIn(next, outbox, ref replaced);
        }

        // A pending generation was never current, so no call can be inside it: free it at once.
        if (Interlocked.Exchange(ref _pending, next) is { } superseded)
        {
            FreeAndDelete(superseded, outbox);
        }

        // Dispose takes _pending with an exchange too: exactly one of the two frees it.
        if (Volatile.Read(ref _disposed) != 0 && Interlocked.CompareExchange(ref _pending, null, next) == next)
        {
            FreeAndDelete(next, outbox);
            return false;
        }

        outbox.Add(() => Log.Pending(_logger, FilePath, next.Number));
        return true;
    }

    /// <summary>
    /// Makes <paramref name="next"/> current. Returns false when it was refused (the old generation serves) or the library
    /// was disposed. A plain swap leaves the old generation in <paramref name="replaced"/> for the caller to retire after
    /// it released its locks and delivered the events; a plugin swap frees it itself (no call can be inside it then).
    /// </summary>
    private bool SwapIn(LibraryGeneration<TExports> next, Outbox outbox, ref LibraryGeneration? replaced)
    {
        LibraryGeneration<TExports>? old;
        lock (_swapLock)
        {
            old = _current; // swaps hold _swapLock, so null here means disposed
            if (old is null || Volatile.Read(ref _disposed) != 0)
            {
                FreeAndDelete(next, outbox);
                return false;
            }

            if (old.Plugin is not null || next.Plugin is not null)
            {
                return SwapWithHooks(old, next, outbox);
            }

            _current = next;
        }

        RaiseReloaded(next, old, outbox);
        replaced = old;
        return true;
    }

    /// <summary>
    /// The plugin contract's swap (see nativereload.h): close the door to new calls, wait until no call is inside the
    /// old generation, old.nr_unload, grow the block, new.nr_load; on refusal or any failure old.nr_load(ROLLBACK) and
    /// the old generation resumes. Caller holds <c>_swapLock</c>. The finally is the only way out of the Swapping state.
    /// </summary>
    private bool SwapWithHooks(LibraryGeneration<TExports> old, LibraryGeneration<TExports> next, Outbox outbox)
    {
        LibraryGeneration<TExports> serving = old;
        _swapping = old;
        _current = null; // Enter() waits from now on
        try
        {
            return HandOver(old, next, outbox, ref serving);
        }
        finally
        {
            _current = serving; // I3: set before _swapping is cleared, so Current never sees both null
            _swapping = null;
        }
    }

    private bool HandOver(LibraryGeneration<TExports> old, LibraryGeneration<TExports> next, Outbox outbox, ref LibraryGeneration<TExports> serving)
    {
        bool selfHeld = ReaderSlots.IsHeldByCurrentThread(old);
        if (selfHeld || !ReaderSlots.WaitUntilUnused(old, _options.RetireTimeout))
        {
            string why = selfHeld
                ? $"this thread is inside generation {old.Number} (a call scope is open around the safe point)"
                : $"a call stayed inside generation {old.Number} for {_options.RetireTimeout.TotalSeconds:F0} s";
            FreeAndDelete(next, outbox);
            ReportFailure(new LibraryLoadException(FilePath, ReloadFailureReason.InitFailed,
                $"{why}, so its state could not be handed over; reload abandoned"), next.ContentHash, outbox);
            return false;
        }

        bool unloaded = false;
        Plugins.StateBuffer? grown = null;
        LibraryLoadException failure;
        try
        {
            InjectFault(ReloadStep.Unload);
            CallUnload(old, outbox);
            unloaded = true;
            Plugins.StateBlock block = _state ??= Plugins.StateBlock.Allocate(0);
            ulong wanted = next.Plugin?.StateSize ?? 0;
            try
            {
                InjectFault(ReloadStep.StateGrowth); // inside: an injected OutOfMemoryException takes the real path
                grown = block.GrowthFor(wanted);
            }
            catch (OutOfMemoryException e)
            {
                throw new LibraryLoadException(FilePath, ReloadFailureReason.HostError,
                    $"cannot grow the state block from {block.Size} to {wanted} bytes ({e.Message}); rolled back to generation {old.Number} with its state", e);
            }

            InjectFault(ReloadStep.LoadHook);
            int result = CallLoad(next, grown ?? block.Buffer, NativeReload.Plugins.NativeContract.Reload);
            if (result == 0)
            {
                if (grown is { } adopted)
                {
                    block.Adopt(adopted);
                    grown = null;
                }

                serving = next; // from here on the new generation serves, whatever happens below
            }
            else
            {
                failure = new LibraryLoadException(FilePath, ReloadFailureReason.InitFailed,
                    $"nr_load returned {result}; rolled back to generation {old.Number} with its state");
                return RollBack(old, next, unloaded, failure, outbox);
            }
        }
        catch (Exception e) when (!ReferenceEquals(serving, next))
        {
            failure = e as LibraryLoadException ?? HostFailure(e, $"during the plugin swap; rolled back to generation {old.Number}");
            return RollBack(old, next, unloaded, failure, outbox);
        }
        finally
        {
            grown?.Free(); // a growth the new generation did not take (refused, failed): never adopted, never reachable
        }

        RaiseReloaded(next, old, outbox);
        FreeAndDelete(old, outbox); // nobody is inside it: the door was closed
        return true;
    }

    /// <summary>The new generation was refused or the swap failed: the old one takes its own state back and serves again.</summary>
    private bool RollBack(LibraryGeneration<TExports> old, LibraryGeneration<TExports> next, bool unloaded, LibraryLoadException failure, Outbox outbox)
    {
        if (unloaded && _state is { } block)
        {
            try
            {
                InjectFault(ReloadStep.Rollback);
                int result = CallLoad(old, block.Buffer, NativeReload.Plugins.NativeContract.Rollback);
                if (result != 0)
                {
                    outbox.Add(() => Log.RollbackHookFailed(_logger, FilePath, old.Number, result));
                }
            }
            catch (Exception e)
            {
                outbox.Add(() => Log.WorkerError(_logger, e, FilePath));
            }
        }

        _lastFailedHash = next.ContentHash;
        FreeAndDelete(next, outbox); // never current, and its nr_load refused: nothing of it is reachable
        ReportFailure(failure, next.ContentHash, outbox);
        return false;
    }

    private void RunFirstLoadHook(LibraryGeneration<TExports> first, Outbox outbox)
    {
        if (first.Plugin is null)
        {
            return;
        }

        try
        {
            _state = Plugins.StateBlock.Allocate(first.Plugin.StateSize);
        }
        catch (OutOfMemoryException e)
        {
            FreeAndDelete(first, outbox);
            throw new LibraryLoadException(FilePath, ReloadFailureReason.HostError, $"cannot allocate a state block of {first.Plugin.StateSize} bytes: {e.Message}", e);
        }

        int result = CallLoad(first, _state.Buffer, NativeReload.Plugins.NativeContract.FirstLoad);
        if (result != 0)
        {
            FreeAndDelete(first, outbox);
            throw new LibraryLoadException(FilePath, ReloadFailureReason.InitFailed, $"nr_load returned {result} on the first load");
        }
    }

    private int CallLoad(LibraryGeneration generation, Plugins.StateBuffer buffer, int loadKind)
    {
        if (generation.Plugin is not { } plugin || _state is not { } block)
        {
            return 0;
        }

        NativeReload.Plugins.NativeContract.HostState state = block.ToHostState(buffer, loadKind, generation.Number);
        int result = plugin.Load(ref state);
        if (result == 0)
        {
            generation.LastLoadKind = loadKind;
            // Owed an nr_unload from now on, whichever hooks it has: one with only nr_unload is told before every
            // unload too (the isolated worker does the same), and a missing nr_unload is simply not called.
            generation.HoldsState = true;
            if (plugin.Info is not null)
            {
                block.Layout = plugin.StateLayout;
            }
        }

        return result;
    }

    private void CallUnload(LibraryGeneration generation, Outbox outbox)
    {
        if (generation.Plugin is not { } plugin || _state is not { } block)
        {
            return;
        }

        NativeReload.Plugins.NativeContract.HostState state = block.ToHostState(block.Buffer, generation.LastLoadKind, generation.Number);
        int result = plugin.Unload(ref state);
        generation.HoldsState = false;
        if (result != 0)
        {
            outbox.Add(() => Log.UnloadHookFailed(_logger, FilePath, generation.Number, result));
        }
    }

    private void WaitWhileSwapping()
    {
        var spinner = default(SpinWait);
        while (_current is null)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                ThrowDisposed();
            }

            spinner.SpinOnce(sleep1Threshold: 20);
        }
    }

    /// <summary>Frees <paramref name="old"/> once no call is inside it; one that does not drain in time goes to <see cref="_stuck"/>.</summary>
    private void Retire(LibraryGeneration old, Outbox outbox)
    {
        try
        {
            InjectFault(ReloadStep.Retire);
            if (ReaderSlots.IsHeldByCurrentThread(old) || !ReaderSlots.WaitUntilUnused(old, _options.RetireTimeout))
            {
                outbox.Add(() => Log.RetireTimedOut(_logger, FilePath, old.Number, _options.RetireTimeout.TotalSeconds));
                _stuck.Add(old);
                return;
            }
        }
        catch (Exception e)
        {
            outbox.Add(() => Log.WorkerError(_logger, e, FilePath));
            _stuck.Add(old); // retried until drained: never leaked, never freed under a call
            return;
        }

        FreeAndDelete(old, outbox);
    }

    /// <summary>The current generation at dispose: unloaded and freed if it drains in time, else kept (with the state block) until it does.</summary>
    private void RetireOnDispose(LibraryGeneration<TExports> current, Outbox outbox)
    {
        bool selfHeld = ReaderSlots.IsHeldByCurrentThread(current);
        if (!selfHeld && ReaderSlots.WaitUntilUnused(current, _options.RetireTimeout))
        {
            FreeDrained(current, outbox);
            return;
        }

        string why = selfHeld
            ? "Dispose was called inside a call scope on it"
            : $"a call is still inside it after {_options.RetireTimeout.TotalSeconds:F0} s";
        outbox.Add(() => Log.KeptOnDispose(_logger, FilePath, current.Number, why));
        _stuck.Add(current);
    }

    /// <summary>Frees a generation no call is inside: gives the state back first (<c>nr_unload</c>) if it holds it.</summary>
    private void FreeDrained(LibraryGeneration generation, Outbox outbox)
    {
        if (generation.HoldsState)
        {
            CallUnload(generation, outbox);
        }

        FreeAndDelete(generation, outbox);
    }

    /// <summary>The final release, once disposed and nothing is stuck: the state block and the shadow directory.</summary>
    private void ReleaseOwned()
    {
        _state?.Free();
        _shadows.Dispose();
    }

    private void FreeAndDelete(LibraryGeneration generation, Outbox outbox)
    {
        generation.Free();
        bool? unmapped = null;
        try
        {
            bool? mapped = MappingInspector.IsMapped(generation.ShadowPath);
            _shadows.TryDeleteCopy(generation.ShadowPath);
            unmapped = mapped is null ? null : !mapped.Value;
        }
        catch (Exception e)
        {
            outbox.Add(() => Log.WorkerError(_logger, e, FilePath)); // diagnostics only: the generation is freed
        }

        if (unmapped == false)
        {
            outbox.Add(() => Log.StayedMapped(_logger, FilePath, generation.Number));
        }
        else
        {
            outbox.Add(() => Log.Freed(_logger, FilePath, generation.Number));
        }

        var args = new GenerationRetiredEventArgs(FilePath, generation.Number, unmapped);
        outbox.Add(() => GenerationRetired?.Invoke(this, args));
    }

    private void ReportFailure(LibraryLoadException failure, string key, Outbox outbox)
    {
        LastFailure = failure;
        string reportKey = $"{failure.Reason}|{failure.Detail}|{key}";
        if (string.Equals(reportKey, _lastReportedFailure, StringComparison.Ordinal))
        {
            return; // already said; say each failure once
        }

        _lastReportedFailure = reportKey;
        long running = _current?.Number ?? _swapping?.Number ?? 0;
        outbox.Add(() => Log.ReloadFailed(_logger, FilePath, failure.Detail, running));
        var args = new ReloadFailedEventArgs(failure, running);
        outbox.Add(() => ReloadFailed?.Invoke(this, args));
    }

    private LibraryLoadException HostFailure(Exception e, string when) =>
        new(FilePath, ReloadFailureReason.HostError, $"the host failed {when}: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ").Trim()}", e);

    private void ClearFailure()
    {
        LastFailure = null;
        _lastFailedHash = null;
        _lastReportedFailure = null;
    }

    private void RaiseReloaded(LibraryGeneration next, LibraryGeneration old, Outbox outbox)
    {
        outbox.Add(() => Log.Reloaded(_logger, FilePath, next.Number, next.LoadDuration.TotalMilliseconds));
        var args = new ReloadedEventArgs(FilePath, next.Number, old.Number, next.LoadDuration);
        outbox.Add(() => Reloaded?.Invoke(this, args));
    }

    private void InjectFault(ReloadStep step) => _options.FaultInjection?.Invoke(step);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowTooDeep() =>
        throw new InvalidOperationException($"More than {ReaderSlots.MaxDepth} generation scopes are open on this thread; dispose each scope (a using statement) before opening another.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowDisposed() => throw new ObjectDisposedException(GetType().Name, $"{FilePath} was disposed");
}
