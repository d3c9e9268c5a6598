using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using NativeReload.ShadowCopying;

namespace NativeReload.Tests.Support;

/// <summary>One libc call of <see cref="IUnixCalls"/>, as <see cref="FaultyUnixCalls"/> rules name it.</summary>
internal enum UnixCall
{
    /// <summary><c>open</c>.</summary>
    Open,

    /// <summary><c>openat</c> (a subdirectory or a file).</summary>
    OpenAt,

    /// <summary><c>unlinkat</c> without <c>AT_REMOVEDIR</c>: a file or a link.</summary>
    Unlink,

    /// <summary><c>unlinkat</c> with <c>AT_REMOVEDIR</c>: an empty directory.</summary>
    RemoveDirectory,

    /// <summary><c>flock</c>.</summary>
    Flock,

    /// <summary><c>dup</c>.</summary>
    Dup,

    /// <summary><c>close</c>.</summary>
    Close,

    /// <summary><c>fdopendir</c>.</summary>
    FdOpenDir,

    /// <summary><c>readdir</c>.</summary>
    ReadDir,

    /// <summary><c>closedir</c>.</summary>
    CloseDir,

    /// <summary><c>statx</c> (Linux) or <c>fstat</c>.</summary>
    Stat,
}

/// <summary>
/// The real libc calls with faults injected on demand: a chosen call (optionally only for one name, only after the
/// first few matching calls, only a few times) fails with a chosen errno, exactly as libc reports it (-1 or null, and
/// the errno in <see cref="Marshal.GetLastPInvokeError"/>), or runs an action first (to change the disk mid-sweep),
/// or has its result edited (a <c>statx</c> buffer). Every call is recorded with the name it concerns.
/// </summary>
/// <remarks>
/// Installed for one test with <see cref="Install"/>, disposed at its end. Rules apply, and calls are recorded, only on
/// the thread that installed it, so a sweep some other test left running is never disturbed. The name of a call on a
/// descriptor (<c>flock</c>, <c>dup</c>, <c>statx</c>, ...) is the last path component of the descriptor's
/// <c>/proc/self/fd</c> link: Linux only.
/// </remarks>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal sealed unsafe class FaultyUnixCalls : IUnixCalls, IDisposable
{
    private readonly IUnixCalls _real;
    private readonly int _thread = Environment.CurrentManagedThreadId;
    private readonly List<Rule> _rules = [];
    private readonly List<(UnixCall Call, string? Name)> _seen = [];
    private readonly Dictionary<nint, string?> _streamNames = [];
    private IDisposable? _restore;

    private FaultyUnixCalls(IUnixCalls real) => _real = real;

    /// <summary>Routes <see cref="UnixDescriptors"/> through a new instance until it is disposed.</summary>
    public static FaultyUnixCalls Install()
    {
        FaultyUnixCalls? made = null;
        IDisposable restore = UnixDescriptors.Substitute(real => made = new FaultyUnixCalls(real));
        made!._restore = restore;
        return made;
    }

    /// <summary>Makes <paramref name="call"/> fail with <paramref name="errno"/>.</summary>
    /// <param name="call">The call.</param>
    /// <param name="errno">What libc would report.</param>
    /// <param name="name">Only for this name (null: any).</param>
    /// <param name="skip">Let this many matching calls through first.</param>
    /// <param name="times">Fail this many matching calls at most.</param>
    public FaultyUnixCalls Fail(UnixCall call, int errno, string? name = null, int skip = 0, int times = int.MaxValue)
    {
        _rules.Add(new Rule(call, name, skip, times) { Errno = errno });
        return this;
    }

    /// <summary>Runs <paramref name="action"/> just before the real <paramref name="call"/> (the disk changing under the sweep).</summary>
    public FaultyUnixCalls Before(UnixCall call, Action action, string? name = null, int skip = 0, int times = int.MaxValue)
    {
        _rules.Add(new Rule(call, name, skip, times) { Before = action });
        return this;
    }

    /// <summary>Runs <paramref name="action"/> just after the real <paramref name="call"/> returned (e.g. to leave a stale errno behind).</summary>
    public FaultyUnixCalls After(UnixCall call, Action action, string? name = null, int skip = 0, int times = int.MaxValue)
    {
        _rules.Add(new Rule(call, name, skip, times) { After = action });
        return this;
    }

    /// <summary>Edits the buffer a successful real <see cref="UnixCall.Stat"/> filled (its address is passed to <paramref name="edit"/>).</summary>
    public FaultyUnixCalls EditStat(Action<nint> edit, string? name = null, int skip = 0, int times = int.MaxValue)
    {
        _rules.Add(new Rule(UnixCall.Stat, name, skip, times) { EditBuffer = edit });
        return this;
    }

    /// <summary>How many times <paramref name="call"/> was made (for <paramref name="name"/>, if given) on the installing thread.</summary>
    public int Count(UnixCall call, string? name = null) =>
        _seen.Count(seen => seen.Call == call && (name is null || seen.Name == name));

    /// <inheritdoc/>
    public void Dispose() => _restore?.Dispose();

    /// <inheritdoc/>
    public int Open(string path, int flags) =>
        Run(UnixCall.Open, Path.GetFileName(path), () => _real.Open(path, flags), -1);

    /// <inheritdoc/>
    public int OpenAt(SafeFileHandle directory, string name, int flags) =>
        Run(UnixCall.OpenAt, name, () => _real.OpenAt(directory, name, flags), -1);

    /// <inheritdoc/>
    public int UnlinkAt(SafeFileHandle directory, string name, int flags) =>
        Run(flags == 0 ? UnixCall.Unlink : UnixCall.RemoveDirectory, name, () => _real.UnlinkAt(directory, name, flags), -1);

    /// <inheritdoc/>
    public int Flock(SafeFileHandle file, int operation) =>
        Run(UnixCall.Flock, NameOf(file), () => _real.Flock(file, operation), -1);

    /// <inheritdoc/>
    public int Dup(SafeFileHandle file) =>
        Run(UnixCall.Dup, NameOf(file), () => _real.Dup(file), -1);

    /// <inheritdoc/>
    public int Close(int fd) =>
        Run(UnixCall.Close, NameOf(fd), () => _real.Close(fd), -1);

    /// <inheritdoc/>
    public nint FdOpenDir(int fd)
    {
        string? name = NameOf(fd);
        nint stream = Run(UnixCall.FdOpenDir, name, () => _real.FdOpenDir(fd), 0);
        if (stream != 0 && Mine)
        {
            _streamNames[stream] = name;
        }

        return stream;
    }

    /// <inheritdoc/>
    public byte* ReadDir(nint stream) =>
        (byte*)Run(UnixCall.ReadDir, StreamName(stream), () => (nint)_real.ReadDir(stream), 0);

    /// <inheritdoc/>
    public int CloseDir(nint stream) =>
        Run(UnixCall.CloseDir, StreamName(stream), () => _real.CloseDir(stream), -1);

    /// <inheritdoc/>
    public int Stat(SafeFileHandle file, byte* buffer)
    {
        nint address = (nint)buffer;
        int result = Run(UnixCall.Stat, NameOf(file), () => _real.Stat(file, (byte*)address), -1, out Rule[] applied);
        if (result == 0)
        {
            foreach (Rule rule in applied)
            {
                rule.EditBuffer?.Invoke(address);
            }
        }

        return result;
    }

    private bool Mine => Environment.CurrentManagedThreadId == _thread;

    /// <summary>The last path component the kernel shows for a descriptor (" (deleted)" dropped), or null.</summary>
    private static string? NameOf(int fd)
    {
        try
        {
            string? target = new FileInfo($"/proc/self/fd/{fd.ToString(CultureInfo.InvariantCulture)}").LinkTarget;
            return target is null ? null : Path.GetFileName(target.EndsWith(" (deleted)", StringComparison.Ordinal) ? target[..^" (deleted)".Length] : target);
        }
        catch (IOException)
        {
            return null; // not open (a close of a bad descriptor, say)
        }
    }

    private static string? NameOf(SafeFileHandle file) => NameOf((int)file.DangerousGetHandle());

    private string? StreamName(nint stream) => Mine && _streamNames.TryGetValue(stream, out string? name) ? name : null;

    private T Run<T>(UnixCall call, string? name, Func<T> real, T failure) => Run(call, name, real, failure, out _);

    private T Run<T>(UnixCall call, string? name, Func<T> real, T failure, out Rule[] applied)
    {
        if (!Mine)
        {
            applied = [];
            return real();
        }

        _seen.Add((call, name));
        applied = [.. _rules.Where(rule => rule.Applies(call, name))];
        foreach (Rule rule in applied)
        {
            rule.Before?.Invoke();
        }

        Rule? fault = applied.FirstOrDefault(rule => rule.Errno is not null);
        if (fault is not null)
        {
            Marshal.SetLastPInvokeError(fault.Errno!.Value);
            return failure;
        }

        T result = real();
        foreach (Rule rule in applied)
        {
            rule.After?.Invoke();
        }

        return result;
    }

    /// <summary>One injected behaviour and which calls it applies to.</summary>
    private sealed class Rule(UnixCall call, string? name, int skip, int times)
    {
        private int _matched;

        public int? Errno { get; init; }

        public Action? Before { get; init; }

        public Action? After { get; init; }

        public Action<nint>? EditBuffer { get; init; }

        /// <summary>True for the matching calls after the first <c>skip</c>, up to <c>times</c> of them; counts every match.</summary>
        public bool Applies(UnixCall made, string? madeName)
        {
            if (made != call || (name is not null && name != madeName))
            {
                return false;
            }

            int index = _matched++;
            return index >= skip && index - skip < times;
        }
    }
}
