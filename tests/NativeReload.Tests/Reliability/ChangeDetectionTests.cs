using System.Collections.Concurrent;
using System.Diagnostics;
using NativeReload.Reloading;
using NativeReload.Tests.Support;
using static NativeReload.Tests.Reliability.ReliabilitySupport;

namespace NativeReload.Tests.Reliability;

/// <summary>How builds really write files: slowly, in bursts, through symlinks, after deleting the directory.</summary>
[TestFixture]
[NonParallelizable]
public sealed class ChangeDetectionTests
{
    private LibraryDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new LibraryDirectory();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public void SlowWriterInPlace_IsNeverLoadedHalfWritten()
    {
        _dir.ReplaceByRename("greeter_v1");
        using var library = new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, GreeterExports.Bind, Options());
        var recorder = new LibraryRecorder<GreeterExports>(library);
        var loadedHashes = new ConcurrentQueue<string>();
        library.Reloaded += (_, _) => loadedHashes.Enqueue(library.Current.ContentHash);

        byte[] v2 = File.ReadAllBytes(TestPaths.Fixture("greeter_v2"));
        var writing = Stopwatch.StartNew();
        using (var stream = new FileStream(_dir.LibraryPath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
        {
            stream.SetLength(0); // truncate + write in place, like cp or a slow network share
            stream.Flush(flushToDisk: true);

            // A tiny first chunk (the ELF magic and a bit), then 20 chunks 60 ms apart: longer pauses than the
            // 50 ms quiet period, so only the completeness checks stand between a prefix and the loader.
            int[] cuts = [.. new[] { 0, 10 }.Concat(Enumerable.Range(1, 20).Select(i => v2.Length * i / 20))];
            for (int i = 1; i < cuts.Length; i++)
            {
                Thread.Sleep(60);
                stream.Write(v2, cuts[i - 1], cuts[i] - cuts[i - 1]);
                stream.Flush(flushToDisk: true);
                Assert.That(recorder.Reloads, Is.Empty, $"nothing may be loaded from a {cuts[i]}-byte prefix of {v2.Length}");
            }
        }

        TestContext.Out.WriteLine($"slow writer took {writing.ElapsedMilliseconds} ms");
        Eventually.That(() => Message(library) == "Hello from v2", "the complete new build");
        Thread.Sleep(SettleTimeout + TimeSpan.FromMilliseconds(500));
        Assert.Multiple(() =>
        {
            Assert.That(recorder.Failures.Select(f => $"{f.Reason}: {f.Detail}"), Is.Empty, "a slow writer is not a failure");
            Assert.That(recorder.Reloads, Has.Count.EqualTo(1), "exactly one generation, from the complete file");
            Assert.That(loadedHashes, Is.EqualTo(new[] { Sha256(v2) }));
            Assert.That(library.Current.Number, Is.EqualTo(2));
        });
    }

    [Test]
    public void GnuLdStyleRebuild_DeleteThenSlowCreate_ReportsNothing()
    {
        _dir.ReplaceByRename("greeter_v1");
        using var library = new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, GreeterExports.Bind, Options());
        var recorder = new LibraryRecorder<GreeterExports>(library);

        byte[] v2 = File.ReadAllBytes(TestPaths.Fixture("greeter_v2"));
        File.Delete(_dir.LibraryPath); // GNU ld unlinks the output first...
        Thread.Sleep(300);             // ...links for a while...
        using (var stream = new FileStream(_dir.LibraryPath, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
        {
            stream.Flush(flushToDisk: true); // ...creates it empty, then writes it in bursts
            for (int offset = 0; offset < v2.Length; offset += 4096)
            {
                Thread.Sleep(80);
                stream.Write(v2, offset, Math.Min(4096, v2.Length - offset));
                stream.Flush(flushToDisk: true);
            }
        }

        Eventually.That(() => Message(library) == "Hello from v2", "the new build");
        Thread.Sleep(SettleTimeout + TimeSpan.FromMilliseconds(500));
        Assert.That(recorder.Failures.Select(f => $"{f.Reason}: {f.Detail}"), Is.Empty, "a missing or empty file during a normal rebuild is not a failure");
        Assert.That(recorder.Reloads, Has.Count.EqualTo(1));
    }

    [Test]
    public void StormOfFiftyRebuildsInFiveSeconds_KeepsAtMostTwoCopies_AndTheLastBuildWins()
    {
        _dir.ReplaceByRename("greeter_v1");
        using var library = new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, GreeterExports.Bind, Options());
        var recorder = new LibraryRecorder<GreeterExports>(library);
        var loadedVersions = new ConcurrentQueue<int>();
        library.Reloaded += (_, _) => loadedVersions.Enqueue(library.Current.Exports.Version);

        int maxCopies = 0;
        long samples = 0;
        using var stop = new CancellationTokenSource();
        var sampler = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                maxCopies = Math.Max(maxCopies, CountCopies(library.ShadowDirectory));
                samples++;
                Thread.Sleep(1);
            }
        }) { IsBackground = true }; // only reads the directory: harmless if a failed assertion leaves it running
        sampler.Start();

        // Renames bring v1 or v2; in-place truncate+write brings v3: the versions loaded show which were seen.
        int last = 0;
        for (int i = 0; i < 50; i++)
        {
            if (i % 2 == 0)
            {
                last = i % 4 == 0 ? 2 : 1;
                _dir.ReplaceByRename($"greeter_v{last}");
            }
            else
            {
                last = 3;
                _dir.OverwriteInPlace("greeter_v3");
            }

            Thread.Sleep(100);
        }

        Eventually.That(() => Version(library) == last, $"the last build (v{last})");
        Thread.Sleep(500);
        stop.Cancel();
        Assert.That(sampler.Join(TimeSpan.FromSeconds(10)), Is.True, "the sampler stopped");

        TestContext.Out.WriteLine($"storm: {recorder.Reloads.Count} reloads, {recorder.Failures.Count} failures, max {maxCopies} copies over {samples} samples, versions loaded: {string.Join(",", loadedVersions)}");
        Assert.Multiple(() =>
        {
            Assert.That(maxCopies, Is.LessThanOrEqualTo(2), "shadow copies on disk during the storm");
            Assert.That(CountCopies(library.ShadowDirectory), Is.EqualTo(1), "after the storm only the current copy");
            Assert.That(recorder.Failures.Select(f => $"{f.Reason}: {f.Detail}"), Is.Empty);
            Assert.That(loadedVersions, Does.Contain(3), "an in-place truncate+write was seen");
            Assert.That(loadedVersions.Any(v => v is 1 or 2), Is.True, "a rename was seen");
            Assert.That(Version(library), Is.EqualTo(last));
            Assert.That(library.Current.ContentHash, Is.EqualTo(Sha256OfFile(TestPaths.Fixture($"greeter_v{last}"))));
        });
    }

    [TestCase(false, TestName = "SymlinkSwap_ToATargetInTheSameDirectory_IsPickedUp")]
    [TestCase(true, TestName = "SymlinkSwap_ToATargetInAnotherDirectory_IsPickedUp")]
    public void SymlinkSwap(bool otherDirectory)
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("symbolic links need privileges on Windows");
        }

        string releases = otherDirectory ? Directory.CreateTempSubdirectory("nr-releases-").FullName : _dir.Path;
        try
        {
            string Release(string fixture, int n)
            {
                string directory = otherDirectory ? Path.Combine(releases, n.ToString(System.Globalization.CultureInfo.InvariantCulture)) : releases;
                Directory.CreateDirectory(directory);
                string target = Path.Combine(directory, $"libgreeter.r{n}.so");
                File.Copy(TestPaths.Fixture(fixture), target);
                return target;
            }

            void PointAt(string target)
            {
                string link = _dir.LibraryPath + ".new";
                File.CreateSymbolicLink(link, target);
                File.Move(link, _dir.LibraryPath, overwrite: true); // ln -sfn + mv -T: an atomic swap
            }

            PointAt(Release("greeter_v1", 1));
            using var library = new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, GreeterExports.Bind, Options());
            var recorder = new LibraryRecorder<GreeterExports>(library);
            Assert.That(Message(library), Is.EqualTo("Hello from v1"));

            PointAt(Release("greeter_v2", 2));
            Eventually.That(() => Message(library) == "Hello from v2", "current -> release 2");

            // The target itself rebuilt in its (other) directory: the target's directory is watched and polled too.
            string third = Release("greeter_v1", 3);
            PointAt(third);
            Eventually.That(() => Message(library) == "Hello from v1", "current -> release 3");
            string temporary = third + ".tmp";
            File.Copy(TestPaths.Fixture("greeter_v3"), temporary);
            File.Move(temporary, third, overwrite: true);
            Eventually.That(() => Message(library) == "Hello from v3", "release 3 rebuilt behind the link");

            Assert.That(recorder.Failures.Select(f => $"{f.Reason}: {f.Detail}"), Is.Empty);
            Assert.That(library.Current.Number, Is.EqualTo(4));
        }
        finally
        {
            if (otherDirectory)
            {
                Directory.Delete(releases, recursive: true);
            }
        }
    }

    [Test]
    public void CargoCleanStyle_DirectoryDeletedAndRecreated_IsStillWatched()
    {
        string target = Path.Combine(_dir.Path, "target", "release");
        Directory.CreateDirectory(target);
        string library_path = Path.Combine(target, Path.GetFileName(_dir.LibraryPath));
        File.Copy(TestPaths.Fixture("greeter_v1"), library_path);
        using var library = new ReloadableLibrary<GreeterExports>(library_path, GreeterExports.Bind, Options());
        var recorder = new LibraryRecorder<GreeterExports>(library);

        Directory.Delete(Path.Combine(_dir.Path, "target"), recursive: true); // cargo clean
        Thread.Sleep(400);
        Directory.CreateDirectory(target);                                      // cargo build
        File.Copy(TestPaths.Fixture("greeter_v2"), library_path);
        Eventually.That(() => Message(library) == "Hello from v2", "the build after cargo clean");

        // And the next rebuilds are still noticed (the watcher on the deleted directory went deaf; it must be renewed).
        for (int i = 0; i < 3; i++)
        {
            string fixture = i % 2 == 0 ? "greeter_v3" : "greeter_v2";
            string temporary = library_path + ".tmp";
            File.Copy(TestPaths.Fixture(fixture), temporary);
            File.Move(temporary, library_path, overwrite: true);
            Eventually.That(() => Message(library) == $"Hello from {fixture[^2..]}", $"rebuild {i} after cargo clean");
        }

        Assert.That(recorder.Failures.Select(f => $"{f.Reason}: {f.Detail}"), Is.Empty, "the directory was back within the settle timeout");
    }
}
