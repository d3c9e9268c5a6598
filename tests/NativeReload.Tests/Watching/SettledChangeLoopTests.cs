using System.Collections.Concurrent;
using System.Diagnostics;
using NativeReload.Reloading;
using NativeReload.Tests.Support;
using NativeReload.Watching;

namespace NativeReload.Tests.Watching;

/// <summary>
/// <see cref="SettledChangeLoop"/> with a recording attempt instead of a reload: one change gives one attempt, a file not
/// yet settled is looked at again after the quiet period, a change during an attempt gets an attempt of its own, a
/// failing attempt is reported and not repeated, and a disposed loop attempts nothing.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class SettledChangeLoopTests
{
    private static readonly TimeSpan QuietPeriod = TimeSpan.FromMilliseconds(300);
    private string _directory = null!;
    private string _library = null!;

    [SetUp]
    public void CreateLibrary()
    {
        _directory = Directory.CreateTempSubdirectory("nativereload-loop-").FullName;
        _library = Path.Combine(_directory, "libx.so");
        File.WriteAllBytes(_library, [1]);
    }

    [TearDown]
    public void DeleteLibrary() => Directory.Delete(_directory, recursive: true);

    [Test]
    public void StillSettling_TransientFailure_WithinTheSettleTimeout()
    {
        using SettledChangeLoop loop = Loop(() => false, settleTimeout: TimeSpan.FromSeconds(30));

        Assert.Multiple(() =>
        {
            Assert.That(loop.StillSettling(Failure(ReloadFailureReason.Incomplete)), Is.True, "a half-written file is waited for");
            Assert.That(loop.StillSettling(Failure(ReloadFailureReason.NotALibrary)), Is.False, "a file that is not a library will not become one by waiting");
        });
    }

    [Test]
    public void StillSettling_TransientFailure_AfterTheSettleTimeout_IsAFailure()
    {
        using SettledChangeLoop loop = Loop(() => false, settleTimeout: TimeSpan.FromMilliseconds(100));

        Thread.Sleep(400);

        Assert.That(loop.StillSettling(Failure(ReloadFailureReason.Incomplete)), Is.False, "quiet for longer than the settle timeout: report it");
    }

    [Test]
    public void OneChange_GetsOneAttempt()
    {
        var attempts = new Attempts(_ => false);
        using SettledChangeLoop loop = Loop(attempts.Run);

        Touch();

        Eventually.That(() => attempts.Count >= 1, "an attempt after the change", TimeSpan.FromSeconds(10));
        Thread.Sleep(QuietPeriod * 3);
        Assert.That(attempts.Count, Is.EqualTo(1), "a settled file is not read again");
    }

    [Test]
    public void NotSettled_IsAttemptedAgainAfterTheQuietPeriod_WithoutAnotherChange()
    {
        var attempts = new Attempts(n => n == 1); // the first read finds the file not settled
        using SettledChangeLoop loop = Loop(attempts.Run);

        Touch();

        Eventually.That(() => attempts.Count >= 2, "a second attempt with no further change", TimeSpan.FromSeconds(10));
        Thread.Sleep(QuietPeriod * 3);
        Assert.Multiple(() =>
        {
            Assert.That(attempts.Count, Is.EqualTo(2), "settled on the second attempt: no third");
            Assert.That(attempts.Gap(1), Is.GreaterThanOrEqualTo(QuietPeriod - TimeSpan.FromMilliseconds(20)), "the retry waits for the quiet period");
        });
    }

    [Test]
    public void NotSettled_ThenClosedByTheWriter_IsAttemptedAtOnce_NotAtTheRetryTime()
    {
        // A linker still writing makes the first read find the file not settled: the retry waits a quiet period. When
        // the writer then closes the file, that close is the news the retry was waiting for: it must not wait on.
        TimeSpan longQuiet = TimeSpan.FromSeconds(5);
        var attempts = new Attempts(n => n == 1);
        using SettledChangeLoop loop = Loop(attempts.Run, quietPeriod: longQuiet);

        Touch(); // written and closed: attempted at once, and found not settled
        Eventually.That(() => attempts.Count >= 1, "the first attempt", TimeSpan.FromSeconds(10));
        Touch(); // the writer's final close, during or right after that attempt

        Eventually.That(() => attempts.Count >= 2, "an attempt after the close", TimeSpan.FromSeconds(10));
        Assert.That(attempts.Gap(1), Is.LessThan(longQuiet / 2), "the close ends the wait; the retry's quiet period does not apply");
    }

    [Test]
    public void FailingAttempt_IsReportedOnce_AndNotRepeated()
    {
        var attempts = new Attempts(_ => throw new InvalidOperationException("boom"));
        var errors = new ConcurrentQueue<Exception>();
        using SettledChangeLoop loop = Loop(attempts.Run, errors.Enqueue);

        Touch();

        Eventually.That(() => !errors.IsEmpty, "the failure is reported", TimeSpan.FromSeconds(10));
        Thread.Sleep(QuietPeriod * 3);
        Assert.Multiple(() =>
        {
            Assert.That(attempts.Count, Is.EqualTo(1), "a failed attempt is not a file still being written");
            Assert.That(errors.Single().Message, Is.EqualTo("boom"));
        });
    }

    [Test]
    public void ChangeDuringAnAttempt_GetsAnAttemptOfItsOwn()
    {
        using var release = new ManualResetEventSlim();
        var attempts = new Attempts(n =>
        {
            if (n == 1)
            {
                release.Wait(TimeSpan.FromSeconds(10));
            }

            return false;
        });
        using SettledChangeLoop loop = Loop(attempts.Run);

        Touch();
        Eventually.That(() => attempts.Count >= 1, "the first attempt is running", TimeSpan.FromSeconds(10));
        Touch(); // after the first attempt read the file
        Thread.Sleep(QuietPeriod * 2);
        Assert.That(attempts.Count, Is.EqualTo(1), "attempts never overlap");
        release.Set();

        Eventually.That(() => attempts.Count >= 2, "the change during the attempt gets its own", TimeSpan.FromSeconds(10));
        Thread.Sleep(QuietPeriod * 3);
        Assert.That(attempts.Count, Is.EqualTo(2));
    }

    [Test]
    public void AfterDispose_NothingIsAttempted()
    {
        var attempts = new Attempts(_ => false);
        SettledChangeLoop loop = Loop(attempts.Run);

        using (FileStream writer = File.OpenWrite(_library))
        {
            writer.Write([1, 2]);
            writer.Flush(); // a write still open: the quiet period applies
            Thread.Sleep(50);
            loop.Dispose();
        }

        Thread.Sleep(QuietPeriod * 3);

        Assert.That(attempts.Count, Is.Zero);
    }

    [Test]
    public void DisposedDuringANotSettledAttempt_IsNotRetried()
    {
        using var release = new ManualResetEventSlim();
        var attempts = new Attempts(_ =>
        {
            release.Wait(TimeSpan.FromSeconds(10));
            return true;
        });
        SettledChangeLoop loop = Loop(attempts.Run);

        Touch();
        Eventually.That(() => attempts.Count >= 1, "the attempt is running", TimeSpan.FromSeconds(10));
        loop.Dispose();
        release.Set();
        Thread.Sleep(QuietPeriod * 3);

        Assert.That(attempts.Count, Is.EqualTo(1));
    }

    private SettledChangeLoop Loop(Func<bool> attempt, Action<Exception>? onError = null, TimeSpan? settleTimeout = null, TimeSpan? quietPeriod = null)
    {
        var options = new ReloadableLibraryOptions
        {
            QuietPeriod = quietPeriod ?? QuietPeriod,
            RenameDebounce = QuietPeriod,
            SettleTimeout = settleTimeout ?? TimeSpan.FromSeconds(2),
            PollInterval = TimeSpan.FromSeconds(5),
        };
        return new SettledChangeLoop(_library, options, attempt, onError ?? (_ => { }), new RecordingLogger());
    }

    private void Touch() => File.WriteAllBytes(_library, [.. File.ReadAllBytes(_library), 1]);

    private LibraryLoadException Failure(ReloadFailureReason reason) => new(_library, reason, "test");

    /// <summary>Counts attempts and when each started; the n-th attempt (from 1) returns what the rule says (true: not settled).</summary>
    private sealed class Attempts(Func<int, bool> rule)
    {
        private readonly ConcurrentQueue<long> _starts = new();
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public bool Run()
        {
            _starts.Enqueue(Stopwatch.GetTimestamp());
            return rule(Interlocked.Increment(ref _count));
        }

        /// <summary>Time between attempt number <paramref name="index"/> (from 1) and the next.</summary>
        public TimeSpan Gap(int index)
        {
            long[] starts = [.. _starts];
            return Stopwatch.GetElapsedTime(starts[index - 1], starts[index]);
        }
    }
}
