using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using NativeReload.Reloading;
using NativeReload.Tests.Support;
using NativeReload.Watching;

namespace NativeReload.Tests.Watching;

/// <summary>
/// Every watched library in the process shares one watcher and one scheduling thread; attempts run on the thread pool
/// (issue 14 item 2): many libraries cost no thread each, none delays another, and no change is lost.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class SharedLoopTests
{
    [SetUp]
    public void RequireFixtures()
    {
        if (!TestPaths.HasFixtureGroup("greeter"))
        {
            Assert.Fail("the greeter fixtures were not built");
        }
    }

    [Test]
    public void StormAcross200Libraries_EveryLibraryEndsOnItsLastBuild_WithoutAThreadPerLibrary()
    {
        const int count = 200;
        const int rounds = 4;
        byte[][] builds = [.. new[] { 1, 2, 3 }.Select(v => File.ReadAllBytes(TestPaths.Fixture($"greeter_v{v}")))];
        string root = Directory.CreateTempSubdirectory("nativereload-storm-").FullName;
        var libraries = new List<ReloadableLibrary<GreeterExports>>(count);
        var failures = new ConcurrentQueue<string>();
        try
        {
            // 20 directories of 10 libraries: directories are shared by several libraries, as in a real plugin folder.
            string[] paths = new string[count];
            for (int i = 0; i < count; i++)
            {
                string directory = Path.Combine(root, $"d{i % 20}");
                Directory.CreateDirectory(directory);
                paths[i] = Path.Combine(directory, $"libplugin{i}.so");
                File.WriteAllBytes(paths[i], builds[0]);
            }

            int threadsBefore = Process.GetCurrentProcess().Threads.Count;
            foreach (string path in paths)
            {
                var library = new ReloadableLibrary<GreeterExports>(path, GreeterExports.Bind,
                    new ReloadableLibraryOptions { SettleTimeout = TimeSpan.FromSeconds(5) });
                library.ReloadFailed += (_, e) => failures.Enqueue($"{e.FilePath}: {e.Reason}: {e.Detail}");
                libraries.Add(library);
            }

            int threadsAdded = Process.GetCurrentProcess().Threads.Count - threadsBefore;

            // The storm: every library replaced `rounds` times, each time by another tool's way of writing, 20 ms apart
            // per round, so changes overlap with the reloads of the previous round.
            int[] last = new int[count];
            var random = new Random(14);
            for (int round = 0; round < rounds; round++)
            {
                for (int i = 0; i < count; i++)
                {
                    int version = random.Next(1, 4);
                    if (round == rounds - 1 && version == last[i])
                    {
                        version = (version % 3) + 1; // the last build always differs from the one before
                    }

                    Write(paths[i], builds[version - 1], (i + round) % 3);
                    last[i] = version;
                }

                Thread.Sleep(20);
            }

            var stopwatch = Stopwatch.StartNew();
            Eventually.That(() => Enumerable.Range(0, count).All(i => Version(libraries[i]) == last[i]),
                "every library on its last build", TimeSpan.FromSeconds(30));
            TestContext.Out.WriteLine($"{count} libraries: +{threadsAdded} threads; all on their last build {stopwatch.ElapsedMilliseconds} ms after the storm");
            Assert.Multiple(() =>
            {
                Assert.That(threadsAdded, Is.LessThan(12), "no thread per library (the old design added one each)");
                Assert.That(failures, Is.Empty, "a storm of complete builds is not a failure");
                for (int i = 0; i < count; i++)
                {
                    Assert.That(libraries[i].Current.ContentHash, Is.EqualTo(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(builds[last[i] - 1]))), paths[i]);
                }
            });
        }
        finally
        {
            foreach (ReloadableLibrary<GreeterExports> library in libraries)
            {
                library.Dispose();
            }

            Directory.Delete(root, recursive: true);
        }
    }

    [Test]
    public void ALibraryWhoseReloadIsBlocked_DoesNotDelayAnotherLibrarysReload()
    {
        using var blockedDir = new LibraryDirectory("blocked");
        using var otherDir = new LibraryDirectory("other");
        blockedDir.ReplaceByRename("greeter_v1");
        otherDir.ReplaceByRename("greeter_v1");
        using var release = new ManualResetEventSlim();
        using var blocked = new ReloadableLibrary<GreeterExports>(blockedDir.LibraryPath, GreeterExports.Bind);
        using var other = new ReloadableLibrary<GreeterExports>(otherDir.LibraryPath, GreeterExports.Bind);
        using var blockedReloading = new ManualResetEventSlim();
        blocked.Reloaded += (_, _) =>
        {
            blockedReloading.Set();
            release.Wait(TimeSpan.FromSeconds(30)); // a handler that blocks the reload that raised it
        };
        var otherReloaded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        other.Reloaded += (_, _) => otherReloaded.TrySetResult();

        try
        {
            blockedDir.ReplaceByRename("greeter_v2");
            Assert.That(blockedReloading.Wait(TimeSpan.FromSeconds(10)), Is.True, "the first library is inside its reload");
            otherDir.ReplaceByRename("greeter_v2");
            // Bounded well inside the 30 s block: on a loaded 2-core machine the thread pool may first have to add a thread.
            Assert.That(otherReloaded.Task.Wait(TimeSpan.FromSeconds(15)), Is.True, "the other library reloaded while the first was blocked");
        }
        finally
        {
            release.Set();
        }
    }

    [Test]
    public void ChangesDuringAnAttempt_AreLookedAtAfterIt_AndAttemptsNeverOverlap()
    {
        using var dir = new LibraryDirectory("loop");
        File.WriteAllBytes(dir.LibraryPath, [1]);
        int running = 0;
        int overlaps = 0;
        long lastWriteTimestamp = 0;
        long lastAttemptStart = 0;
        var options = new ReloadableLibraryOptions { QuietPeriod = TimeSpan.FromMilliseconds(20), PollInterval = TimeSpan.FromSeconds(5) };
        using var loop = new SettledChangeLoop(dir.LibraryPath, options, () =>
        {
            if (Interlocked.Increment(ref running) > 1)
            {
                Interlocked.Increment(ref overlaps);
            }

            Volatile.Write(ref lastAttemptStart, Stopwatch.GetTimestamp());
            Thread.Sleep(60); // slower than the writes: changes arrive while it runs
            Interlocked.Decrement(ref running);
            return false;
        }, _ => { }, NullLogger.Instance);

        for (int i = 0; i < 30; i++)
        {
            File.WriteAllBytes(dir.LibraryPath, [(byte)i]);
            Volatile.Write(ref lastWriteTimestamp, Stopwatch.GetTimestamp());
            Thread.Sleep(10);
        }

        Eventually.That(() => Volatile.Read(ref lastAttemptStart) > Volatile.Read(ref lastWriteTimestamp) && Volatile.Read(ref running) == 0,
            "an attempt that started after the last write", TimeSpan.FromSeconds(10));
        Assert.That(overlaps, Is.Zero, "the attempt never ran concurrently with itself");
    }

    [Test]
    public void Dispose_DoesNotWaitForAnAttemptThatIsBlocked()
    {
        using var dir = new LibraryDirectory("dispose");
        File.WriteAllBytes(dir.LibraryPath, [1]);
        using var inside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        int attempts = 0;
        var loop = new SettledChangeLoop(dir.LibraryPath, new ReloadableLibraryOptions(), () =>
        {
            Interlocked.Increment(ref attempts);
            inside.Set();
            release.Wait(TimeSpan.FromSeconds(20)); // blocked on its owner, who is disposing
            return true;                            // "not settled": would retry if the loop were still running
        }, _ => { }, NullLogger.Instance);
        try
        {
            File.WriteAllBytes(dir.LibraryPath, [2]);
            Assert.That(inside.Wait(TimeSpan.FromSeconds(10)), Is.True, "the attempt started");
            var disposing = Stopwatch.StartNew();
            loop.Dispose();
            Assert.That(disposing.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)), "Dispose returned while the attempt was blocked");
        }
        finally
        {
            release.Set();
        }

        File.WriteAllBytes(dir.LibraryPath, [3]);
        Thread.Sleep(300);
        Assert.That(attempts, Is.EqualTo(1), "no attempt after Dispose, not even the retry");
    }

    private static void Write(string path, byte[] content, int how)
    {
        switch (how)
        {
            case 0: // lld, mold: rename a finished file over the path
                string temporary = path + ".tmp";
                File.WriteAllBytes(temporary, content);
                File.Move(temporary, path, overwrite: true);
                break;
            case 1: // GNU ld, install: unlink, create, write, close
                File.Delete(path);
                File.WriteAllBytes(path, content);
                break;
            default: // cp: truncate and write in place
                using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
                {
                    stream.SetLength(0);
                    stream.Write(content);
                }

                break;
        }
    }

    private static int Version(ReloadableLibrary<GreeterExports> library)
    {
        using var scope = library.Enter();
        return scope.Exports.Version;
    }
}
