using System.Collections.Concurrent;
using NativeReload.Reloading;

namespace NativeReload.Tests.Support;

/// <summary>Records a library's events so tests can assert on them.</summary>
internal sealed class LibraryRecorder<TExports>
    where TExports : class
{
    public LibraryRecorder(ReloadableLibrary<TExports> library)
    {
        library.Reloaded += (_, e) => Reloads.Enqueue(e);
        library.ReloadFailed += (_, e) => Failures.Enqueue(e);
        library.GenerationRetired += (_, e) => Retired.Enqueue(e);
    }

    public ConcurrentQueue<ReloadedEventArgs> Reloads { get; } = new();

    public ConcurrentQueue<ReloadFailedEventArgs> Failures { get; } = new();

    public ConcurrentQueue<GenerationRetiredEventArgs> Retired { get; } = new();
}
