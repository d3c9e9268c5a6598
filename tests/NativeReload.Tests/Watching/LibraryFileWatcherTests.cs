using NativeReload.Tests.Support;
using NativeReload.Watching;

namespace NativeReload.Tests.Watching;

/// <summary>
/// The polling fallback of <see cref="LibraryFileWatcher"/>, polled by the test at chosen moments (the timer is off):
/// it reports what the watchers missed and only that, re-creates deaf watchers (a directory deleted and re-created, a
/// symbolic link now pointing elsewhere), and says nothing after Dispose.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class LibraryFileWatcherTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);
    private bool _previous;
    private string _root = null!;

    [SetUp]
    public void CreateRoot()
    {
        _previous = LibraryFileWatcher.UseInotify;
        _root = Directory.CreateTempSubdirectory("nativereload-lfw-").FullName;
    }

    [TearDown]
    public void DeleteRoot()
    {
        LibraryFileWatcher.UseInotify = _previous;
        Directory.Delete(_root, recursive: true);
    }

    [TestCase(true)]
    [TestCase(false)]
    public void Poll_WithNoChange_ReportsNothing(bool inotify)
    {
        LibraryFileWatcher.UseInotify = inotify;
        string library = Library("target", [1]);
        var heard = new KindRecorder();
        using LibraryFileWatcher watcher = Watch(library, heard);

        watcher.Poll();
        watcher.Poll();

        Assert.That(heard.Kinds, Is.Empty);
    }

    [TestCase(true)]
    [TestCase(false)]
    public void ChangeHeardByTheWatcher_IsNotReportedAgainByThePoll(bool inotify)
    {
        LibraryFileWatcher.UseInotify = inotify;
        string library = Library("target", [1]);
        var heard = new KindRecorder();
        using LibraryFileWatcher watcher = Watch(library, heard);

        File.WriteAllBytes(library, [1, 2, 3]);
        Eventually.That(() => heard.Kinds.Length > 0, "the watcher hears the write", TimeSpan.FromSeconds(10));
        Thread.Sleep(Quiet); // the rest of the write's events
        watcher.Poll();

        Assert.That(heard.Kinds, Has.None.EqualTo(FileChangeKind.Polled), "the watcher reported it: the poll stays quiet");
    }

    [TestCase(true)]
    [TestCase(false)]
    public void DirectoryCreatedAfterTheWatcher_IsWatchedFromTheNextPoll(bool inotify)
    {
        LibraryFileWatcher.UseInotify = inotify;
        string directory = Path.Combine(_root, "target");
        string library = Path.Combine(directory, "libx.so");
        var heard = new KindRecorder();
        var logger = new RecordingLogger();
        using LibraryFileWatcher watcher = Watch(library, heard, logger);
        Assert.That(logger.Lines(32), Is.Empty, "a directory that does not exist yet is left to polling without a warning");

        Directory.CreateDirectory(directory);
        watcher.Poll(); // no file yet: nothing to report, but the directory can be watched now
        Assert.That(heard.Kinds, Is.Empty);
        File.WriteAllBytes(library, [1]);

        Eventually.That(() => heard.Kinds.Length > 0, "the new watcher hears the file being created", TimeSpan.FromSeconds(10));
        Assert.That(heard.Kinds, Has.None.EqualTo(FileChangeKind.Polled));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void ChangeTheWatchersMissed_IsReportedAsPolled_OnceAndThenWatched(bool inotify)
    {
        LibraryFileWatcher.UseInotify = inotify;
        string directory = Path.Combine(_root, "target");
        string library = Path.Combine(directory, "libx.so");
        var heard = new KindRecorder();
        var logger = new RecordingLogger();
        using LibraryFileWatcher watcher = Watch(library, heard, logger);

        Directory.CreateDirectory(directory); // no watcher could be there: this change is missed
        File.WriteAllBytes(library, [1]);
        watcher.Poll();
        Assert.That(heard.Kinds, Is.EqualTo(new[] { FileChangeKind.Polled }), "the poll reports the change nobody heard");
        Assert.That(logger.Lines(30), Has.Length.EqualTo(1), "the missed change is logged");
        Assert.That(watcher.WatchCount, Is.EqualTo(1), "the directory is watched now");

        watcher.Poll();
        Assert.That(heard.Kinds, Has.Length.EqualTo(1), "an unchanged file is not reported twice");

        AssertAWatcherHears(heard, library, [1, 2], "the re-created watcher hears the next write");
    }

    [TestCase(true)]
    [TestCase(false)]
    public void DirectoryDeletedAndRecreated_IsLookedAtAgain_AndWatchedAgain(bool inotify)
    {
        LibraryFileWatcher.UseInotify = inotify;
        string library = Library("target", [1]);
        string directory = Path.GetDirectoryName(library)!;
        var heard = new KindRecorder();
        var logger = new RecordingLogger();
        int hubDirectories = DirectoryWatcherHub.Shared.WatchedDirectoryCount;
        using LibraryFileWatcher watcher = Watch(library, heard, logger);

        DeleteAndHear(directory, heard); // cargo clean
        watcher.Poll();
        watcher.Poll();
        Assert.Multiple(() =>
        {
            Assert.That(logger.Lines(33), Has.Length.EqualTo(1), "the lost directory is logged once");
            Assert.That(DirectoryWatcherHub.Shared.WatchedDirectoryCount, Is.EqualTo(hubDirectories), "the deaf watcher is dropped");
            Assert.That(heard.Kinds, Has.None.EqualTo(FileChangeKind.Polled), "the delete was heard: nothing more to report");
            Assert.That(watcher.WatchCount, Is.Zero, "no watch is kept on a directory that is gone");
        });

        heard.Clear();
        Directory.CreateDirectory(directory);
        watcher.Poll();
        Assert.That(heard.Kinds, Is.EqualTo(new[] { FileChangeKind.Polled }), "the directory came back: the file is looked at even though its stamp (missing) did not change");
        watcher.Poll();
        Assert.That(heard.Kinds, Has.Length.EqualTo(1), "reported once, not at every poll");

        AssertAWatcherHears(heard, library, [1, 2], "the watcher re-created for the new directory hears the build");
    }

    [TestCase(true)]
    [TestCase(false)]
    public void DirectoryBack_IsWatchedFromThePollThatSeesIt(bool inotify)
    {
        LibraryFileWatcher.UseInotify = inotify;
        string library = Library("target", [1]);
        string directory = Path.GetDirectoryName(library)!;
        var heard = new KindRecorder();
        using LibraryFileWatcher watcher = Watch(library, heard);

        DeleteAndBringBack(directory, heard, watcher);

        Assert.That(watcher.WatchCount, Is.EqualTo(1));
        AssertAWatcherHears(heard, library, [1, 2], "the build right after the directory came back is heard, with no second poll");
    }

    [Test]
    public void DirectoryBack_RenewsTheSharedFileSystemWatcherThatAnotherLibraryKeptDeaf()
    {
        LibraryFileWatcher.UseInotify = false;
        string library = Library("target", [1]);
        string directory = Path.GetDirectoryName(library)!;
        string neighbour = Path.Combine(directory, "libneighbour.so");
        File.WriteAllBytes(neighbour, [9]);
        var heard = new KindRecorder();
        using LibraryFileWatcher watcher = Watch(library, heard);
        using LibraryFileWatcher neighbourWatcher = Watch(neighbour, new KindRecorder()); // never polled: keeps the shared watcher

        DeleteAndBringBack(directory, heard, watcher);

        AssertAWatcherHears(heard, library, [1, 2], "the directory's shared watcher was renewed, not reused deaf");
    }

    [Test]
    public void FileSystemWatcherOverflow_IsLogged_AndReportedAsAChange()
    {
        // A FileSystemWatcher reports an overflowing event queue through Error, not as a change: every library in the
        // directory must still be looked at. Overflow for real: a neighbour's handler blocks the directory's shared
        // watcher, so the runtime stops reading its inotify descriptor, and the test queues more events than the
        // kernel keeps (fs.inotify.max_queued_events, 16,384 by default). The library itself is never written: all
        // it can hear is the error.
        LibraryFileWatcher.UseInotify = false;
        string library = Library("target", [1]);
        string directory = Path.GetDirectoryName(library)!;
        string neighbour = Path.Combine(directory, "libneighbour.so");
        File.WriteAllBytes(neighbour, [9]);
        var logger = new RecordingLogger();
        var heard = new KindRecorder();
        using var neighbourHeard = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        using LibraryFileWatcher watcher = Watch(library, heard, logger);
        using LibraryFileWatcher blocking = new(neighbour, Timeout.InfiniteTimeSpan, _ =>
        {
            neighbourHeard.Set();
            release.Wait(TimeSpan.FromSeconds(30));
        }, new RecordingLogger());
        int queueLimit = int.Parse(File.ReadAllText("/proc/sys/fs/inotify/max_queued_events"), System.Globalization.CultureInfo.InvariantCulture);

        try
        {
            File.WriteAllBytes(neighbour, [9, 9]);
            Assert.That(neighbourHeard.Wait(TimeSpan.FromSeconds(10)), Is.True, "the neighbour's write blocks the shared watcher");
            for (int i = 0; i <= queueLimit; i++)
            {
                File.WriteAllBytes(Path.Combine(directory, $"noise{i}"), []); // created: at least one event each
            }
        }
        finally
        {
            release.Set();
        }

        Eventually.That(() => logger.Lines(31).Length > 0, "the watcher's error is logged", TimeSpan.FromSeconds(30));
        LogEntry error = logger.Entries.First(e => e.EventId == 31);
        Assert.That(error.Message, Is.EqualTo($"File watcher error for {library}; polling covers it"));
        Assert.That(error.Exception, Is.InstanceOf<InternalBufferOverflowException>());
        Eventually.That(() => heard.Kinds.Length > 0, "the error is reported as a change", TimeSpan.FromSeconds(10));
        Assert.That(heard.Kinds, Is.EqualTo(new[] { FileChangeKind.Changed }));
    }

    [Test]
    public void Dispose_StopsThePollTimer_SoNothingKeepsTheWatcherAlive()
    {
        string library = Library("target", [1]);
        WeakReference disposed = CreateAndDispose(library);

        for (int attempt = 0; attempt < 10 && disposed.IsAlive; attempt++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Assert.That(disposed.IsAlive, Is.False, "a live poll timer would keep calling into a disposed watcher, and keep it");

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        static WeakReference CreateAndDispose(string path)
        {
            var watcher = new LibraryFileWatcher(path, TimeSpan.FromHours(1), _ => { }, new RecordingLogger());
            watcher.Dispose();
            return new WeakReference(watcher);
        }
    }

    [TestCase(true)]
    [TestCase(false)]
    public void DirectoryReplacedBetweenTwoPolls_HeardDeletesRenewTheWatcher(bool inotify)
    {
        LibraryFileWatcher.UseInotify = inotify;
        string library = Library("target", [1]);
        string directory = Path.GetDirectoryName(library)!;
        var heard = new KindRecorder();
        using LibraryFileWatcher watcher = Watch(library, heard);

        DeleteAndHear(directory, heard);
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(library, [1, 2]); // into the new directory, unheard
        watcher.Poll();
        Assert.That(heard.Kinds, Has.None.EqualTo(FileChangeKind.Polled), "a delete was heard: the reload pipeline is already looking");

        heard.Clear();
        File.WriteAllBytes(library, [1, 2, 3]);
        Eventually.That(() => heard.Kinds.Length > 0, "the watcher re-created after the heard delete hears the next write", TimeSpan.FromSeconds(10));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void SymbolicLinkRetargeted_IsReported_AndTheNewTargetIsWatched(bool inotify)
    {
        LibraryFileWatcher.UseInotify = inotify;
        string first = Library("a", [1]);
        string second = Library("b", [2, 2]);
        string link = Path.Combine(_root, "libx.so");
        File.CreateSymbolicLink(link, first);
        var heard = new KindRecorder();
        using LibraryFileWatcher watcher = Watch(link, heard);

        File.WriteAllBytes(first, [1, 1, 1]);
        Eventually.That(() => heard.Kinds.Length > 0, "a write to the link's target is heard", TimeSpan.FromSeconds(10));
        Thread.Sleep(Quiet);
        watcher.Poll();

        heard.Clear();
        Repoint(link, second);
        Eventually.That(() => heard.Kinds.Length > 0, "the retargeted link is heard", TimeSpan.FromSeconds(10));
        Thread.Sleep(Quiet);
        watcher.Poll();
        Assert.That(heard.Kinds, Does.Contain(FileChangeKind.Polled), "a link now resolving elsewhere is reported by the poll");
        Assert.That(watcher.WatchCount, Is.EqualTo(2), "the link's directory and the new target's: the old target's watch is gone");

        AssertAWatcherHears(heard, second, [3, 3, 3], "a write to the new target is heard");
    }

    [TestCase(true)]
    [TestCase(false)]
    public void LinkChainRetargetedOneHopAway_IsReported_AndTheNewTargetIsWatched(bool inotify)
    {
        // libx.so -> current -> a/libx.so, the layout of version switchers and deploy scripts: re-pointing `current`
        // leaves libx.so's own link text as it was, only the final target moves. Here libx.so is also re-created in
        // the same interval (so its watcher hears something and nothing looks missed): the poll must still see the move.
        LibraryFileWatcher.UseInotify = inotify;
        string first = Library("a", [1]);
        string second = Library("b", [2, 2]);
        string current = Path.Combine(_root, "current");
        string link = Path.Combine(_root, "libx.so");
        File.CreateSymbolicLink(current, first);
        File.CreateSymbolicLink(link, "current");
        var heard = new KindRecorder();
        using LibraryFileWatcher watcher = Watch(link, heard);
        Assert.That(watcher.WatchCount, Is.EqualTo(2), "the link's directory and its final target's");

        Repoint(current, second);
        Repoint(link, "current"); // same link text: libx.so -> current
        Eventually.That(() => heard.Kinds.Contains(FileChangeKind.Renamed), "the re-created link is heard", TimeSpan.FromSeconds(10));
        Thread.Sleep(Quiet);
        watcher.Poll();

        Assert.That(heard.Kinds, Does.Contain(FileChangeKind.Polled), "a link chain now resolving elsewhere is reported by the poll");
        AssertAWatcherHears(heard, second, [3, 3, 3], "a write to the new final target is heard");
    }

    [Test]
    public void SymbolicLinkTargetDirectoryDeleted_IsALostDirectory()
    {
        string target = Library("a", [1]);
        string link = Path.Combine(_root, "libx.so");
        File.CreateSymbolicLink(link, target);
        var heard = new KindRecorder();
        var logger = new RecordingLogger();
        using LibraryFileWatcher watcher = Watch(link, heard, logger);

        Directory.Delete(Path.GetDirectoryName(target)!, recursive: true);
        Eventually.That(() => heard.Kinds.Contains(FileChangeKind.Deleted), "the target's delete is heard", TimeSpan.FromSeconds(10));
        watcher.Poll();

        Assert.That(logger.Lines(33), Has.Length.EqualTo(1), "the directory of the link's target is gone");
    }

    [TestCase(true)]
    [TestCase(false)]
    public void FileSystemWatcherFallback_IsNotAWarning_WhenChosen(bool inotify)
    {
        LibraryFileWatcher.UseInotify = inotify;
        string library = Library("target", [1]);
        var logger = new RecordingLogger();

        using LibraryFileWatcher watcher = Watch(library, new KindRecorder(), logger);

        Assert.That(logger.Lines(32), Is.Empty, "the directory is watched: no 'cannot watch'");
    }

    [TestCase(true)]
    [TestCase(false)]
    public void AfterDispose_NothingIsReported(bool inotify)
    {
        LibraryFileWatcher.UseInotify = inotify;
        string library = Library("target", [1]);
        var heard = new KindRecorder();
        LibraryFileWatcher watcher = Watch(library, heard);

        watcher.Dispose();
        File.WriteAllBytes(library, [1, 2]);
        Thread.Sleep(Quiet);
        watcher.Poll();

        Assert.That(heard.Kinds, Is.Empty);
    }

    [Test]
    public void DirectoryOfAMissingLibraryDeleted_ReleasesItsSharedWatcherAtTheNextPoll()
    {
        LibraryFileWatcher.UseInotify = false;
        string directory = Path.Combine(_root, "target");
        Directory.CreateDirectory(directory);
        string library = Path.Combine(directory, "libx.so"); // not built yet
        int hubDirectories = DirectoryWatcherHub.Shared.WatchedDirectoryCount;
        using LibraryFileWatcher watcher = Watch(library, new KindRecorder());
        Assert.That(DirectoryWatcherHub.Shared.WatchedDirectoryCount, Is.EqualTo(hubDirectories + 1));

        Directory.Delete(directory);
        watcher.Poll();

        Assert.That(DirectoryWatcherHub.Shared.WatchedDirectoryCount, Is.EqualTo(hubDirectories), "a watcher on a deleted directory is deaf for good: dropped, not kept");
        Assert.That(watcher.WatchCount, Is.Zero);
    }

    private static LibraryFileWatcher Watch(string path, KindRecorder heard, RecordingLogger? logger = null) =>
        new(path, Timeout.InfiniteTimeSpan, heard.Callback, logger ?? new RecordingLogger());

    private string Library(string directoryName, byte[] content)
    {
        string directory = Path.Combine(_root, directoryName);
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, "libx.so");
        File.WriteAllBytes(path, content);
        return path;
    }

    /// <summary>Deletes the library's directory (<c>cargo clean</c>, <c>rm -rf build</c>) and waits until a watcher reports it.</summary>
    private static void DeleteAndHear(string directory, KindRecorder heard)
    {
        Directory.Delete(directory, recursive: true);
        Eventually.That(() => heard.Kinds.Contains(FileChangeKind.Deleted), "the watcher hears the delete", TimeSpan.FromSeconds(10));
    }

    /// <summary>Writes <paramref name="content"/> and checks that a watcher, not the poll, reports it.</summary>
    /// <summary>Deletes the library's directory, polls once it is heard gone, re-creates it (empty) and polls again.</summary>
    private static void DeleteAndBringBack(string directory, KindRecorder heard, LibraryFileWatcher watcher)
    {
        DeleteAndHear(directory, heard);
        watcher.Poll();
        Directory.CreateDirectory(directory);
        watcher.Poll();
    }

    /// <summary><c>ln -sfn</c>: a new link beside <paramref name="link"/>, renamed over it in one step.</summary>
    private static void Repoint(string link, string target)
    {
        File.CreateSymbolicLink(link + ".tmp", target);
        File.Move(link + ".tmp", link, overwrite: true);
    }

    private static void AssertAWatcherHears(KindRecorder heard, string path, byte[] content, string what)
    {
        heard.Clear();
        File.WriteAllBytes(path, content);
        Eventually.That(() => heard.Kinds.Length > 0, what, TimeSpan.FromSeconds(10));
        Assert.That(heard.Kinds, Has.None.EqualTo(FileChangeKind.Polled));
    }
}
