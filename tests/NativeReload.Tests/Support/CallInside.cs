using NativeReload.Reloading;

namespace NativeReload.Tests.Support;

/// <summary>A background thread that stays inside one call scope until <see cref="Release"/> (or its own time runs out).</summary>
internal sealed class CallInside<TExports> : IDisposable
    where TExports : class
{
    private static readonly TimeSpan Bounded = TimeSpan.FromSeconds(10);
    private readonly ManualResetEventSlim _inside = new();
    private readonly ManualResetEventSlim _release = new();
    private readonly Thread _thread;

    public CallInside(ReloadableLibrary<TExports> library, Action<TExports>? call = null)
    {
        _thread = new Thread(() =>
        {
            using var scope = library.Enter();
            _inside.Set();
            call?.Invoke(scope.Exports);
            _release.Wait(Bounded);
        }) { IsBackground = true };
        _thread.Start();
        Assert.That(_inside.Wait(Bounded), Is.True, "the calling thread entered the library");
    }

    public void Release() => _release.Set();

    public void Join() => Assert.That(_thread.Join(Bounded), Is.True, "the calling thread finished");

    public void Dispose()
    {
        _release.Set();
        _thread.Join(Bounded);
    }
}
