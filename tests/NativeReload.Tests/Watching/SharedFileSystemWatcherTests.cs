using NativeReload.Reloading;
using NativeReload.Tests.Support;
using NativeReload.Watching;

namespace NativeReload.Tests.Watching;

/// <summary>
/// The macOS/Windows path, run on every OS by turning inotify off: one <see cref="FileSystemWatcher"/> per directory,
/// shared by the libraries in it, still notices every way a build writes and still recovers from a deleted directory.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class SharedFileSystemWatcherTests
{
    private bool _previous;

    [SetUp]
    public void UseFileSystemWatchers()
    {
        if (!TestPaths.HasFixtureGroup("greeter"))
        {
            Assert.Fail("the greeter fixtures were not built");
        }

        _previous = LibraryFileWatcher.UseInotify;
        LibraryFileWatcher.UseInotify = false;
    }

    [TearDown]
    public void Restore() => LibraryFileWatcher.UseInotify = _previous;

    [Test]
    public void LibrariesInOneDirectory_ShareOneWatcher_AndEachSeesOnlyItsOwnChanges()
    {
        string directory = Directory.CreateTempSubdirectory("nativereload-fsw-").FullName;
        var libraries = new List<ReloadableLibrary<GreeterExports>>();
        try
        {
            string[] paths = [.. Enumerable.Range(0, 5).Select(i => Path.Combine(directory, $"libplugin{i}.so"))];
            foreach (string path in paths)
            {
                File.Copy(TestPaths.Fixture("greeter_v1"), path);
            }

            int before = DirectoryWatcherHub.Shared.WatchedDirectoryCount;
            libraries.AddRange(paths.Select(p => new ReloadableLibrary<GreeterExports>(p, GreeterExports.Bind)));
            Assert.That(DirectoryWatcherHub.Shared.WatchedDirectoryCount - before, Is.EqualTo(1), "five libraries, one directory, one watcher");

            // Three ways of writing, one library each; the other two must stay on generation 1.
            string temporary = paths[0] + ".tmp";
            File.Copy(TestPaths.Fixture("greeter_v2"), temporary);
            File.Move(temporary, paths[0], overwrite: true);
            File.Delete(paths[1]);
            File.Copy(TestPaths.Fixture("greeter_v2"), paths[1]);
            File.WriteAllBytes(paths[2], File.ReadAllBytes(TestPaths.Fixture("greeter_v2")));
            Eventually.That(() => libraries.Take(3).All(l => l.Current.Number == 2), "the three rewritten libraries", TimeSpan.FromSeconds(10));
            Thread.Sleep(300);
            Assert.Multiple(() =>
            {
                Assert.That(libraries.Skip(3).Select(l => l.Current.Number), Is.All.EqualTo(1), "the untouched libraries did not reload");
                Assert.That(libraries.Select(l => l.LastFailure), Is.All.Null);
            });

            foreach (ReloadableLibrary<GreeterExports> library in libraries)
            {
                library.Dispose();
            }

            libraries.Clear();
            Assert.That(DirectoryWatcherHub.Shared.WatchedDirectoryCount, Is.EqualTo(before), "the last library out disposes the watcher");
        }
        finally
        {
            foreach (ReloadableLibrary<GreeterExports> library in libraries)
            {
                library.Dispose();
            }

            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public void SharedWatcher_DirectoryDeletedAndRecreated_IsRenewedForEveryLibraryInIt()
    {
        using var dir = new LibraryDirectory("fsw-clean");
        string target = Path.Combine(dir.Path, "target");
        Directory.CreateDirectory(target);
        string first = Path.Combine(target, "libone.so");
        string second = Path.Combine(target, "libtwo.so");
        File.Copy(TestPaths.Fixture("greeter_v1"), first);
        File.Copy(TestPaths.Fixture("greeter_v1"), second);
        var options = new ReloadableLibraryOptions { SettleTimeout = TimeSpan.FromSeconds(5) };
        using var one = new ReloadableLibrary<GreeterExports>(first, GreeterExports.Bind, options);
        using var two = new ReloadableLibrary<GreeterExports>(second, GreeterExports.Bind, options);

        Directory.Delete(target, recursive: true); // cargo clean
        Thread.Sleep(400);
        Directory.CreateDirectory(target);
        File.Copy(TestPaths.Fixture("greeter_v2"), first);
        File.Copy(TestPaths.Fixture("greeter_v2"), second);
        Eventually.That(() => one.Current.Number == 2 && two.Current.Number == 2, "both rebuilt after the clean", TimeSpan.FromSeconds(10));

        for (int i = 0; i < 2; i++)
        {
            string fixture = i == 0 ? "greeter_v3" : "greeter_v1";
            foreach (string path in new[] { first, second })
            {
                File.Copy(TestPaths.Fixture(fixture), path + ".tmp");
                File.Move(path + ".tmp", path, overwrite: true);
            }

            int generation = 3 + i;
            Eventually.That(() => one.Current.Number == generation && two.Current.Number == generation, $"rebuild {i} after the clean", TimeSpan.FromSeconds(10));
        }
    }
}
