using System.Diagnostics;
using NativeReload.Reloading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Watching;

/// <summary>The change loop waits for quiet before it reads a file written in place (Watching/SettledChangeLoop).</summary>
[TestFixture]
[NonParallelizable]
public sealed class QuietPeriodTests
{
    [Test]
    public void InPlaceWrite_IsReadOnlyAfterTheQuietPeriod_EvenWhenTheWriterPausesInsideIt()
    {
        if (!TestPaths.HasFixtureGroup("greeter"))
        {
            Assert.Fail("the greeter fixtures were not built");
        }

        using var dir = new LibraryDirectory("quiet");
        dir.ReplaceByRename("greeter_v1");
        TimeSpan quiet = TimeSpan.FromMilliseconds(400);
        using var library = new ReloadableLibrary<GreeterExports>(dir.LibraryPath, GreeterExports.Bind,
            new ReloadableLibraryOptions { QuietPeriod = quiet, PollInterval = TimeSpan.FromSeconds(5) });
        var reloadedAt = new TaskCompletionSource<long>();
        library.Reloaded += (_, _) => reloadedAt.TrySetResult(Stopwatch.GetTimestamp());

        // A writer that writes the first half, pauses for half the quiet period, then writes the rest (same inode), and
        // keeps the file open: no close event says it is finished, so only the quiet period may let the host read it.
        // (A writer that closes is read at once: CloseEventTests.)
        byte[] v2 = File.ReadAllBytes(TestPaths.Fixture("greeter_v2"));
        long lastWrite;
        bool reloaded;
        using (var stream = new FileStream(dir.LibraryPath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
        {
            stream.SetLength(0);
            stream.Write(v2, 0, v2.Length / 2);
            stream.Flush();
            Thread.Sleep(quiet / 2);
            stream.Write(v2, v2.Length / 2, v2.Length - (v2.Length / 2));
            stream.Flush();
            lastWrite = Stopwatch.GetTimestamp();
            reloaded = reloadedAt.Task.Wait(TimeSpan.FromSeconds(10));
        }

        Assert.That(reloaded, Is.True, "the complete file was loaded while its writer still held it open");
        TimeSpan afterLastWrite = Stopwatch.GetElapsedTime(lastWrite, reloadedAt.Task.Result);
        Assert.Multiple(() =>
        {
            Assert.That(afterLastWrite, Is.GreaterThanOrEqualTo(quiet - TimeSpan.FromMilliseconds(20)), "read only after a full quiet period");
            Assert.That(library.Current.Number, Is.EqualTo(2), "loaded once, complete");
            Assert.That(library.LastFailure, Is.Null);
        });
    }

    [Test]
    public void AfterAReload_TheLoopGoesQuiet_ASettledFileIsNotReadAgainAndAgain()
    {
        using var dir = new LibraryDirectory("settled");
        dir.ReplaceByRename("greeter_v1");
        var log = new RecordingLogger();
        using var library = new ReloadableLibrary<GreeterExports>(dir.LibraryPath, GreeterExports.Bind,
            new ReloadableLibraryOptions { QuietPeriod = TimeSpan.FromMilliseconds(30), PollInterval = TimeSpan.FromSeconds(5) }, log);
        var reloaded = new ManualResetEventSlim();
        library.Reloaded += (_, _) => reloaded.Set();

        dir.ReplaceByRename("greeter_v2");
        Assert.That(reloaded.Wait(TimeSpan.FromSeconds(10)), Is.True, "reloaded");
        Thread.Sleep(600); // twenty quiet periods with no change

        // An attempt that loaded (or found the content unchanged) is done: only a not-settled file is retried. At most
        // one late event (the rename's directory entry) may read the file once more.
        Assert.That(log.Lines(5), Has.Length.LessThanOrEqualTo(1), "reads of the unchanged file after the reload");
    }
}
