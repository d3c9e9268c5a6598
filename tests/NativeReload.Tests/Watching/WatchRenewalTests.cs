using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using NativeReload.Tests.Support;
using NativeReload.Watching;

namespace NativeReload.Tests.Watching;

/// <summary>
/// The polling fallback renews the watch after a delete (the directory may have been re-created); renewing must not
/// open a window in which the next change is lost (mold: unlink the output, rename the new file over it).
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class WatchRenewalTests
{
    [Test]
    public void UnlinkThenRename_WhileThePollRenewsTheWatch_IsAlwaysReported()
    {
        using var dir = new LibraryDirectory("renew");
        File.WriteAllBytes(dir.LibraryPath, [0]);
        long lastReport = 0;
        // A 1 ms poll renews the watch after every delete: as often as possible, to hit any window it opens.
        using var watcher = new LibraryFileWatcher(dir.LibraryPath, TimeSpan.FromMilliseconds(1),
            kind =>
            {
                if (kind is FileChangeKind.Renamed or FileChangeKind.Polled)
                {
                    Volatile.Write(ref lastReport, Stopwatch.GetTimestamp());
                }
            }, NullLogger.Instance);

        int lost = 0;
        for (int i = 0; i < 300; i++)
        {
            string temporary = dir.LibraryPath + ".tmp";
            File.WriteAllBytes(temporary, [(byte)i, 1]);
            File.Delete(dir.LibraryPath);
            Thread.Sleep(Random.Shared.Next(0, 3)); // the poll sees the delete and renews the watch around here
            long renamed = Stopwatch.GetTimestamp();
            File.Move(temporary, dir.LibraryPath);
            var waited = Stopwatch.StartNew();
            while (Volatile.Read(ref lastReport) < renamed && waited.ElapsedMilliseconds < 1000)
            {
                Thread.Sleep(1);
            }

            if (Volatile.Read(ref lastReport) < renamed)
            {
                lost++;
            }
        }

        Assert.That(lost, Is.Zero, "renames that neither the watch nor the polling fallback reported within 1 s");
    }
}
