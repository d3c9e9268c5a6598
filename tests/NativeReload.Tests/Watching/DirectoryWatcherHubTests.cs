using NativeReload.Tests.Support;
using NativeReload.Watching;

namespace NativeReload.Tests.Watching;

/// <summary>
/// The shared <see cref="FileSystemWatcher"/> path on its own (a private hub, no polling behind it): each kind of change
/// reaches the subscribers of that name and no others, and the watcher lives exactly as long as its last subscriber.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class DirectoryWatcherHubTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);
    private string _directory = null!;
    private DirectoryWatcherHub _hub = null!;
    private readonly List<IDisposable> _subscriptions = [];

    [SetUp]
    public void CreateDirectory()
    {
        _directory = Directory.CreateTempSubdirectory("nativereload-hub-").FullName;
        _hub = new DirectoryWatcherHub();
    }

    [TearDown]
    public void DeleteDirectory()
    {
        foreach (IDisposable subscription in _subscriptions)
        {
            subscription.Dispose();
        }

        _subscriptions.Clear();
        Directory.Delete(_directory, recursive: true);
    }

    [Test]
    public void CreatedFile_IsReportedAsCreated_OnlyToItsName()
    {
        KindRecorder mine = Subscribe("liba.so");
        KindRecorder other = Subscribe("libb.so");

        File.WriteAllBytes(PathOf("liba.so"), [1]);

        Eventually.That(() => mine.Kinds.Contains(FileChangeKind.Created), "Created for liba.so", TimeSpan.FromSeconds(10));
        Thread.Sleep(Quiet);
        Assert.That(other.Kinds, Is.Empty, "libb.so was not touched");
    }

    [Test]
    public void WriteInPlace_IsReportedAsChanged()
    {
        File.WriteAllBytes(PathOf("liba.so"), [1]);
        KindRecorder mine = Subscribe("liba.so");

        using (FileStream stream = File.OpenWrite(PathOf("liba.so")))
        {
            stream.Write([2, 3, 4]);
        }

        Eventually.That(() => mine.Kinds.Contains(FileChangeKind.Changed), "Changed for liba.so", TimeSpan.FromSeconds(10));
        Assert.That(mine.Kinds, Has.None.EqualTo(FileChangeKind.Created).And.None.EqualTo(FileChangeKind.Deleted));
    }

    [Test]
    public void PermissionChange_IsReportedAsChanged()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("Unix file modes");
            return;
        }

        File.WriteAllBytes(PathOf("liba.so"), [1]);
        KindRecorder mine = Subscribe("liba.so");

        File.SetUnixFileMode(PathOf("liba.so"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        Eventually.That(() => mine.Kinds.Contains(FileChangeKind.Changed), "Changed after chmod (a linker's last step)", TimeSpan.FromSeconds(10));
    }

    [Test]
    public void DeletedFile_IsReportedAsDeleted_OnlyToItsName()
    {
        File.WriteAllBytes(PathOf("liba.so"), [1]);
        File.WriteAllBytes(PathOf("libb.so"), [1]);
        KindRecorder mine = Subscribe("liba.so");
        KindRecorder other = Subscribe("libb.so");

        File.Delete(PathOf("liba.so"));

        Eventually.That(() => mine.Kinds.Contains(FileChangeKind.Deleted), "Deleted for liba.so", TimeSpan.FromSeconds(10));
        Thread.Sleep(Quiet);
        Assert.That(other.Kinds, Is.Empty, "libb.so was not touched");
    }

    [Test]
    public void RenameOverTheName_IsRenamedForTheNewName_AndDeletedForTheOldName()
    {
        File.WriteAllBytes(PathOf("liba.so.tmp"), [1]);
        KindRecorder temporary = Subscribe("liba.so.tmp");
        KindRecorder library = Subscribe("liba.so");

        File.Move(PathOf("liba.so.tmp"), PathOf("liba.so"));

        Eventually.That(() => library.Kinds.Contains(FileChangeKind.Renamed), "Renamed for liba.so", TimeSpan.FromSeconds(10));
        Eventually.That(() => temporary.Kinds.Contains(FileChangeKind.Deleted), "Deleted for the name renamed away", TimeSpan.FromSeconds(10));
        Assert.That(library.Kinds, Has.None.EqualTo(FileChangeKind.Deleted), "the new name was not deleted");
    }

    [Test]
    public void NamesDifferingOnlyInCase_AreDifferentFiles_OnACaseSensitiveFileSystem()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("case-sensitive file systems: Linux");
        }

        KindRecorder lower = Subscribe("liba.so");

        File.WriteAllBytes(PathOf("LIBA.so"), [1]);
        File.WriteAllBytes(PathOf("libz.so"), [1]); // a marker: once it is heard, LIBA.so was too

        KindRecorder marker = Subscribe("libz.so");
        File.WriteAllBytes(PathOf("libz.so"), [2]);
        Eventually.That(() => marker.Kinds.Length > 0, "the marker file", TimeSpan.FromSeconds(10));
        Thread.Sleep(Quiet);
        Assert.That(lower.Kinds, Is.Empty, "LIBA.so is not liba.so on Linux");
    }

    [Test]
    public void DisposedSubscriber_HearsNothing_TheOtherOfTheSameNameStillHears()
    {
        KindRecorder gone = Subscribe("liba.so", out IDisposable goneSubscription);
        KindRecorder staying = Subscribe("liba.so");

        goneSubscription.Dispose();
        File.WriteAllBytes(PathOf("liba.so"), [1]);

        Eventually.That(() => staying.Kinds.Contains(FileChangeKind.Created), "the remaining subscriber hears the change", TimeSpan.FromSeconds(10));
        Thread.Sleep(Quiet);
        Assert.That(gone.Kinds, Is.Empty, "a disposed subscription hears nothing");
        Assert.That(_hub.WatchedDirectoryCount, Is.EqualTo(1), "one subscriber left keeps the watcher");
    }

    [Test]
    public void LastSubscriberDisposed_ReleasesTheWatcher()
    {
        Directory.CreateDirectory(Path.Combine(_directory, "CMakeFiles", "x.dir")); // a build tree's insides
        int before = KindRecorder.InotifyWatches();
        IDisposable first = _hub.Watch(_directory, "liba.so", _ => { }, renew: false, _ => { });
        IDisposable second = _hub.Watch(_directory, "libb.so", _ => { }, renew: false, _ => { });
        Assert.That(KindRecorder.InotifyWatches() - before, Is.EqualTo(1), "two names in one directory share one watcher, and its subdirectories are not watched");

        first.Dispose();
        Assert.That(_hub.WatchedDirectoryCount, Is.EqualTo(1));
        second.Dispose();

        Assert.That(_hub.WatchedDirectoryCount, Is.Zero);
        Eventually.That(() => KindRecorder.InotifyWatches() == before, "the watcher's inotify watch is removed", TimeSpan.FromSeconds(10));
    }

    [Test]
    public void Renew_ReplacesTheWatcher_WithoutLeakingTheOldOne()
    {
        KindRecorder first = Subscribe("liba.so");
        int before = KindRecorder.InotifyWatches();

        File.WriteAllBytes(PathOf("liba.so.tmp"), [1]); // another name: not reported to liba.so

        _subscriptions.Add(_hub.Watch(_directory, "libb.so", _ => { }, renew: true, _ => { }));

        File.Move(PathOf("liba.so.tmp"), PathOf("liba.so")); // one rename: one event per watcher that still reports
        Eventually.That(() => first.Kinds.Length > 0, "the earlier subscriber hears through the new watcher", TimeSpan.FromSeconds(10));
        Thread.Sleep(Quiet);
        Assert.That(first.Kinds, Is.EqualTo(new[] { FileChangeKind.Renamed }), "heard once: the replaced watcher was disposed, not left reporting");
        foreach (IDisposable subscription in _subscriptions)
        {
            subscription.Dispose();
        }

        Eventually.That(() => KindRecorder.InotifyWatches() == before - 1, "no watch left behind by the replaced watcher", TimeSpan.FromSeconds(10));
    }

    [Test]
    public void Renew_MakesADeafWatcherHearAgain_AfterTheDirectoryWasReplaced()
    {
        KindRecorder library = Subscribe("liba.so");
        string moved = _directory + ".old";
        Directory.Move(_directory, moved); // the watcher follows the old directory's inode: deaf for the path
        try
        {
            Directory.CreateDirectory(_directory);
            File.WriteAllBytes(PathOf("liba.so"), [1]);
            Thread.Sleep(Quiet);
            Assert.That(library.Kinds, Has.None.EqualTo(FileChangeKind.Created), "precondition: the watcher is deaf to the new directory");

            _subscriptions.Add(_hub.Watch(_directory, "libb.so", _ => { }, renew: true, _ => { }));
            File.WriteAllBytes(PathOf("liba.so"), [1, 2]);

            Eventually.That(() => library.Kinds.Contains(FileChangeKind.Changed), "the renewed watcher reaches the earlier subscriber", TimeSpan.FromSeconds(10));
        }
        finally
        {
            Directory.Delete(moved, recursive: true);
        }
    }

    private string PathOf(string name) => Path.Combine(_directory, name);

    private KindRecorder Subscribe(string name) => Subscribe(name, out _);

    private KindRecorder Subscribe(string name, out IDisposable subscription)
    {
        var recorder = new KindRecorder();
        subscription = _hub.Watch(_directory, name, recorder.Callback, renew: false, _ => { });
        _subscriptions.Add(subscription);
        return recorder;
    }
}
