using System.Runtime.Versioning;
using NativeReload.Tests.Support;
using NativeReload.Watching;

namespace NativeReload.Tests.Watching;

/// <summary>
/// The shared inotify instance on its own: each event mask becomes the kind the reload pipeline expects, only the
/// subscribers of that name hear it, the directory's own deletion or move reaches every subscriber, and the watch
/// descriptor lives exactly as long as its last subscriber.
/// </summary>
[TestFixture]
[NonParallelizable]
[SupportedOSPlatform("linux")]
public sealed class InotifyHubTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);
    private readonly List<IDisposable> _subscriptions = [];
    private string _directory = null!;
    private InotifyHub _hub = null!;

    [SetUp]
    public void CreateDirectory()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("inotify: Linux");
        }

        _hub = InotifyHub.Shared ?? throw new AssertionException($"no inotify instance: {InotifyHub.UnavailableReason}");
        _directory = Directory.CreateTempSubdirectory("nativereload-inotify-").FullName;
    }

    [TearDown]
    public void DeleteDirectory()
    {
        foreach (IDisposable subscription in _subscriptions)
        {
            subscription.Dispose();
        }

        _subscriptions.Clear();
        if (_directory is not null && Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Test]
    public void NewFile_IsCreatedThenClosed_OnlyForItsName()
    {
        KindRecorder mine = Subscribe("liba.so");
        KindRecorder other = Subscribe("libb.so");

        File.WriteAllBytes(PathOf("liba.so"), [1]);

        Eventually.That(() => mine.Kinds.Contains(FileChangeKind.Closed), "Closed for liba.so", TimeSpan.FromSeconds(10));
        Assert.That(mine.Kinds[0], Is.EqualTo(FileChangeKind.Created));
        Thread.Sleep(Quiet);
        Assert.That(other.Kinds, Is.Empty, "libb.so was not touched");
    }

    [Test]
    public void WriteInPlace_IsChangedThenClosed()
    {
        File.WriteAllBytes(PathOf("liba.so"), [1]);
        KindRecorder mine = Subscribe("liba.so");

        using (var stream = new FileStream(PathOf("liba.so"), FileMode.Open, FileAccess.Write))
        {
            stream.Write([2, 3, 4]);
            stream.Flush();
            Eventually.That(() => mine.Kinds.Contains(FileChangeKind.Changed), "Changed while the writer still has it open", TimeSpan.FromSeconds(10));
        }

        Eventually.That(() => mine.Kinds.Contains(FileChangeKind.Closed), "Closed when the writer closes it", TimeSpan.FromSeconds(10));
        Assert.That(mine.Kinds, Has.None.EqualTo(FileChangeKind.Created).And.None.EqualTo(FileChangeKind.Deleted));
    }

    [Test]
    public void PermissionChange_IsAttributesOnly()
    {
        File.WriteAllBytes(PathOf("liba.so"), [1]);
        KindRecorder mine = Subscribe("liba.so");

        File.SetUnixFileMode(PathOf("liba.so"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        Eventually.That(() => mine.Kinds.Length > 0, "the chmod is heard", TimeSpan.FromSeconds(10));
        Thread.Sleep(Quiet);
        Assert.That(mine.Kinds, Is.All.EqualTo(FileChangeKind.Attributes), "a chmod is not a write (it must not restart a quiet period)");
    }

    [Test]
    public void DeletedFile_IsDeleted()
    {
        File.WriteAllBytes(PathOf("liba.so"), [1]);
        KindRecorder mine = Subscribe("liba.so");

        File.Delete(PathOf("liba.so"));

        Eventually.That(() => mine.Kinds.Length > 0, "the delete is heard", TimeSpan.FromSeconds(10));
        Assert.That(mine.Kinds, Is.EqualTo(new[] { FileChangeKind.Deleted }));
    }

    [Test]
    public void RenameOverTheName_IsRenamedForIt_AndDeletedForTheOldName()
    {
        File.WriteAllBytes(PathOf("liba.so.tmp"), [1]);
        KindRecorder temporary = Subscribe("liba.so.tmp");
        KindRecorder library = Subscribe("liba.so");

        File.Move(PathOf("liba.so.tmp"), PathOf("liba.so"));

        Eventually.That(() => library.Kinds.Length > 0 && temporary.Kinds.Length > 0, "both names hear the rename", TimeSpan.FromSeconds(10));
        Assert.Multiple(() =>
        {
            Assert.That(library.Kinds, Is.EqualTo(new[] { FileChangeKind.Renamed }));
            Assert.That(temporary.Kinds, Is.EqualTo(new[] { FileChangeKind.Deleted }));
        });
    }

    [Test]
    public void DirectoryDeleted_EverySubscriberHearsDeleted_AndTheWatchIsGone()
    {
        int before = _hub.WatchedDirectoryCount;
        KindRecorder absent = Subscribe("libnothere.so");
        Assert.That(_hub.WatchedDirectoryCount, Is.EqualTo(before + 1));

        Directory.Delete(_directory);

        Eventually.That(() => absent.Kinds.Contains(FileChangeKind.Deleted), "the directory's own deletion reaches every name in it", TimeSpan.FromSeconds(10));
        Eventually.That(() => _hub.WatchedDirectoryCount == before, "the kernel dropped the watch (IN_IGNORED): so does the hub", TimeSpan.FromSeconds(10));
    }

    [Test]
    public void DirectoryMoved_EverySubscriberHearsDeleted()
    {
        KindRecorder absent = Subscribe("libnothere.so");
        string moved = _directory + ".old";

        Directory.Move(_directory, moved);
        try
        {
            Eventually.That(() => absent.Kinds.Contains(FileChangeKind.Deleted), "the directory moved away is gone for its path", TimeSpan.FromSeconds(10));
        }
        finally
        {
            Directory.Delete(moved, recursive: true);
        }
    }

    [Test]
    public void LastSubscriberDisposed_RemovesTheWatch_ADisposedSubscriberHearsNothing()
    {
        int before = _hub.WatchedDirectoryCount;
        KindRecorder gone = Subscribe("liba.so", out IDisposable goneSubscription);
        KindRecorder staying = Subscribe("liba.so", out IDisposable stayingSubscription);
        Assert.That(_hub.WatchedDirectoryCount, Is.EqualTo(before + 1), "one watch per directory");

        goneSubscription.Dispose();
        goneSubscription.Dispose(); // twice is harmless
        File.WriteAllBytes(PathOf("liba.so"), [1]);
        Eventually.That(() => staying.Kinds.Contains(FileChangeKind.Closed), "the remaining subscriber hears", TimeSpan.FromSeconds(10));
        Assert.Multiple(() =>
        {
            Assert.That(gone.Kinds, Is.Empty, "a disposed subscription hears nothing");
            Assert.That(_hub.WatchedDirectoryCount, Is.EqualTo(before + 1), "one subscriber left keeps the watch");
        });

        stayingSubscription.Dispose();
        Assert.That(_hub.WatchedDirectoryCount, Is.EqualTo(before), "the last subscriber out removes the watch");
    }

    [Test]
    public void QueueOverflow_EverySubscriberInEveryDirectoryHearsAChange()
    {
        // The kernel drops events once fs.inotify.max_queued_events wait unread, and says so with one IN_Q_OVERFLOW
        // event that names no directory: nobody knows whose change was lost, so every library must look again.
        // Overflow for real: a subscriber blocks the reader thread (callbacks run on it), the test queues more events
        // than the kernel keeps, then lets it go. The subscriber in the other directory saw nothing happen there.
        string otherDirectory = Directory.CreateTempSubdirectory("nativereload-inotify-other-").FullName;
        try
        {
            using var blocked = new ManualResetEventSlim();
            using var release = new ManualResetEventSlim();
            var elsewhere = new KindRecorder();
            _subscriptions.Add(_hub.Watch(_directory, "libblocking.so", _ =>
            {
                blocked.Set();
                release.Wait(TimeSpan.FromSeconds(30));
            }));
            _subscriptions.Add(_hub.Watch(otherDirectory, "liba.so", elsewhere.Callback));
            int queueLimit = int.Parse(File.ReadAllText("/proc/sys/fs/inotify/max_queued_events"), System.Globalization.CultureInfo.InvariantCulture);

            try
            {
                File.WriteAllBytes(PathOf("libblocking.so"), [1]);
                Assert.That(blocked.Wait(TimeSpan.FromSeconds(10)), Is.True, "the subscriber blocks the reader thread");
                for (int i = 0; i <= queueLimit; i++)
                {
                    File.WriteAllBytes(PathOf($"noise{i}"), []); // created and closed: two events each
                }
            }
            finally
            {
                release.Set();
            }

            Eventually.That(() => elsewhere.Kinds.Length > 0, "the overflow reaches the other directory's subscriber", TimeSpan.FromSeconds(30));
            Assert.That(elsewhere.Kinds, Is.EqualTo(new[] { FileChangeKind.Changed }), "a plain change: the quiet period and the checks apply");
        }
        finally
        {
            Directory.Delete(otherDirectory, recursive: true);
        }
    }

    [Test]
    public void MissingDirectory_CannotBeWatched_WithTheReason()
    {
        string missing = Path.Combine(_directory, "missing");

        IOException e = Assert.Throws<IOException>(() => _hub.Watch(missing, "liba.so", _ => { }))!;

        Assert.That(e.Message, Does.StartWith("inotify_add_watch: ").And.Not.Contain("watch limit").And.Not.Contain("Stryker"));
        Assert.That(e.Message, Has.Length.GreaterThan("inotify_add_watch: ".Length), "the reason (no such file or directory) is said");
    }

    private string PathOf(string name) => Path.Combine(_directory, name);

    private KindRecorder Subscribe(string name) => Subscribe(name, out _);

    private KindRecorder Subscribe(string name, out IDisposable subscription)
    {
        var recorder = new KindRecorder();
        subscription = _hub.Watch(_directory, name, recorder.Callback);
        _subscriptions.Add(subscription);
        return recorder;
    }
}
