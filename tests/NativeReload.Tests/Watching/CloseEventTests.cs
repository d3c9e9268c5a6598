using System.Collections.Concurrent;
using System.Diagnostics;
using NativeReload.Reloading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Watching;

/// <summary>
/// On Linux the watcher hears when a writer closed the file (inotify <c>IN_CLOSE_WRITE</c>): a file written in place is
/// read at once instead of after the quiet period, and the completeness checks still stop a writer that closes early.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class CloseEventTests
{
    private static readonly TimeSpan LongQuiet = TimeSpan.FromSeconds(3);

    [SetUp]
    public void RequireLinux()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("close events come from inotify (Linux); elsewhere the quiet period applies");
        }

        if (!TestPaths.HasFixtureGroup("greeter"))
        {
            Assert.Fail("the greeter fixtures were not built");
        }
    }

    [Test]
    public void InPlaceWrite_ClosedByItsWriter_IsLoadedWithoutWaitingForTheQuietPeriod()
    {
        using var dir = new LibraryDirectory("close");
        dir.ReplaceByRename("greeter_v1");
        using var library = new ReloadableLibrary<GreeterExports>(dir.LibraryPath, GreeterExports.Bind, Options());
        var reloadedAt = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        library.Reloaded += (_, _) => reloadedAt.TrySetResult(Stopwatch.GetTimestamp());

        dir.OverwriteInPlace("greeter_v2"); // cp: truncate, write, close (same inode)
        long closed = Stopwatch.GetTimestamp();

        Assert.That(reloadedAt.Task.Wait(TimeSpan.FromSeconds(10)), Is.True, "the closed file was loaded");
        TimeSpan latency = Stopwatch.GetElapsedTime(closed, reloadedAt.Task.Result);
        TestContext.Out.WriteLine($"closed -> reloaded: {latency.TotalMilliseconds:F1} ms (quiet period {LongQuiet.TotalMilliseconds} ms)");
        Assert.Multiple(() =>
        {
            Assert.That(latency, Is.LessThan(LongQuiet / 2), "read on the close, not after the quiet period");
            Assert.That(library.Current.Number, Is.EqualTo(2));
            Assert.That(library.LastFailure, Is.Null);
        });
    }

    [Test]
    public void GnuLdStyleLink_UnlinkCreateWriteCloseChmod_IsLoadedOnceWithoutWaitingForTheQuietPeriod()
    {
        using var dir = new LibraryDirectory("ld");
        dir.ReplaceByRename("greeter_v1");
        using var library = new ReloadableLibrary<GreeterExports>(dir.LibraryPath, GreeterExports.Bind, Options());
        var recorder = new LibraryRecorder<GreeterExports>(library);
        var reloadedAt = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        library.Reloaded += (_, _) => reloadedAt.TrySetResult(Stopwatch.GetTimestamp());

        byte[] v2 = File.ReadAllBytes(TestPaths.Fixture("greeter_v2"));
        File.Delete(dir.LibraryPath);
        using (var stream = new FileStream(dir.LibraryPath, FileMode.CreateNew, FileAccess.Write))
        {
            stream.Write(v2);
        }

        long closed = Stopwatch.GetTimestamp();
        if (OperatingSystem.IsLinux())
        {
            File.SetUnixFileMode(dir.LibraryPath, File.GetUnixFileMode(dir.LibraryPath) | UnixFileMode.UserExecute); // ld's chmod +x
        }

        Assert.That(reloadedAt.Task.Wait(TimeSpan.FromSeconds(10)), Is.True, "the linked file was loaded");
        TimeSpan latency = Stopwatch.GetElapsedTime(closed, reloadedAt.Task.Result);
        Thread.Sleep(300); // let the chmod's own look at the file end
        Assert.Multiple(() =>
        {
            Assert.That(latency, Is.LessThan(LongQuiet / 2), "read on the close: the chmod after it must not wait for quiet");
            Assert.That(recorder.Reloads, Has.Count.EqualTo(1), "one generation: the chmod finds the same bytes");
            Assert.That(recorder.Failures.Select(f => $"{f.Reason}: {f.Detail}"), Is.Empty);
        });
    }

    [Test]
    public void CloseAfterADelete_IsReadAtOnce_NotAfterTheDeletesQuietPeriod()
    {
        using var dir = new LibraryDirectory("late-close");
        dir.ReplaceByRename("greeter_v1");
        using var library = new ReloadableLibrary<GreeterExports>(dir.LibraryPath, GreeterExports.Bind, Options());
        var reloadedAt = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        library.Reloaded += (_, _) => reloadedAt.TrySetResult(Stopwatch.GetTimestamp());

        // GNU ld unlinks the output, links for a while (the host is then waiting for the delete's quiet period), then
        // creates, writes and closes the new file: the close must end that wait.
        byte[] v2 = File.ReadAllBytes(TestPaths.Fixture("greeter_v2"));
        File.Delete(dir.LibraryPath);
        Thread.Sleep(150);
        File.WriteAllBytes(dir.LibraryPath, v2);
        long closed = Stopwatch.GetTimestamp();

        Assert.That(reloadedAt.Task.Wait(TimeSpan.FromSeconds(10)), Is.True, "the new file was loaded");
        TimeSpan latency = Stopwatch.GetElapsedTime(closed, reloadedAt.Task.Result);
        TestContext.Out.WriteLine($"closed -> reloaded: {latency.TotalMilliseconds:F1} ms");
        Assert.That(latency, Is.LessThan(LongQuiet / 2), "the close ends the wait that the delete started");
    }

    [Test]
    public void WriterThatClosesHalfWayAndReopens_IsNeverLoadedHalfWritten()
    {
        using var dir = new LibraryDirectory("reopen");
        dir.ReplaceByRename("greeter_v1");
        using var library = new ReloadableLibrary<GreeterExports>(dir.LibraryPath, GreeterExports.Bind,
            Options(quiet: TimeSpan.FromMilliseconds(50)));
        var recorder = new LibraryRecorder<GreeterExports>(library);
        var loaded = new ConcurrentQueue<string>();
        library.Reloaded += (_, _) => loaded.Enqueue(library.Current.ContentHash);

        byte[] v2 = File.ReadAllBytes(TestPaths.Fixture("greeter_v2"));
        int half = v2.Length / 2;
        using (var stream = new FileStream(dir.LibraryPath, FileMode.Truncate, FileAccess.Write))
        {
            stream.Write(v2, 0, half); // closed after the first half: the close event makes the host look at once
        }

        Thread.Sleep(200); // longer than the quiet period: the host has looked at the half file by now
        Assert.That(recorder.Reloads, Is.Empty, "a closed half file is not loaded: its headers describe more bytes");
        using (var stream = new FileStream(dir.LibraryPath, FileMode.Append, FileAccess.Write))
        {
            stream.Write(v2, half, v2.Length - half);
        }

        Eventually.That(() => library.Current.Number == 2, "the complete file", TimeSpan.FromSeconds(10));
        Thread.Sleep(300);
        Assert.Multiple(() =>
        {
            Assert.That(recorder.Failures.Select(f => $"{f.Reason}: {f.Detail}"), Is.Empty, "a half file within the settle timeout is not a failure");
            Assert.That(loaded, Is.EqualTo(new[] { Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(v2)) }));
        });
    }

    private static ReloadableLibraryOptions Options(TimeSpan? quiet = null) => new()
    {
        QuietPeriod = quiet ?? LongQuiet,
        PollInterval = TimeSpan.FromSeconds(5), // the close event alone must do it
        SettleTimeout = TimeSpan.FromSeconds(5),
    };
}
