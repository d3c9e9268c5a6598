using System.Diagnostics;
using System.Runtime.Versioning;
using NativeReload.Reloading;
using NativeReload.Tests.Support;
using NativeReload.Watching;

namespace NativeReload.Tests.Watching;

/// <summary>
/// The one thread that times every library's quiet periods: it runs an entry once it is due and otherwise sleeps until
/// the next one, so a host with libraries loaded and nothing changing costs no CPU.
/// </summary>
[TestFixture]
[NonParallelizable]
[SupportedOSPlatform("linux")]
public sealed class ChangeSchedulerTests
{
    [Test]
    public void BetweenEntries_TheSchedulerThreadSleeps_InsteadOfSpinningOrWakingEveryMillisecond()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("reads the thread's state from /proc");
        }

        string directory = Directory.CreateTempSubdirectory("nativereload-scheduler-").FullName;
        try
        {
            string library = Path.Combine(directory, "libx.so");
            File.WriteAllBytes(library, [1]);
            var options = new ReloadableLibraryOptions { PollInterval = TimeSpan.FromSeconds(30) };
            using var loop = new SettledChangeLoop(library, options, () => false, _ => { }, new RecordingLogger());
            ChangeScheduler scheduler = ChangeScheduler.Shared;

            scheduler.Schedule(loop, Stopwatch.GetTimestamp()); // due now: runs (a stale entry for this loop: it only returns)
            Eventually.That(() => scheduler.Queued == 0, "the entry due now is taken off the queue", TimeSpan.FromSeconds(10));
            scheduler.Schedule(loop, Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 30));
            string task = SchedulerTask();

            long switchesBefore = VoluntarySwitches(task);
            int running = 0;
            for (int i = 0; i < 40; i++)
            {
                Thread.Sleep(15);
                if (State(task) == 'R')
                {
                    running++;
                }
            }

            long switches = VoluntarySwitches(task) - switchesBefore;
            Assert.Multiple(() =>
            {
                Assert.That(running, Is.LessThan(10), "times the scheduler thread was found running or runnable out of 40 (spinning)");
                Assert.That(switches, Is.LessThan(50), "times the scheduler thread woke up in 0.6 s with the next entry 30 s away");
            });
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>The /proc directory of the scheduler's thread (Linux shows the first 15 characters of its name).</summary>
    private static string SchedulerTask() =>
        Directory.EnumerateDirectories("/proc/self/task")
            .FirstOrDefault(t => File.ReadAllText(Path.Combine(t, "comm")).TrimEnd('\n') == "NativeReload ch")
        ?? throw new AssertionException("no thread named 'NativeReload changes' in /proc/self/task");

    private static long VoluntarySwitches(string task) =>
        long.Parse(File.ReadAllLines(Path.Combine(task, "status"))
            .Single(l => l.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal))
            .Split(':')[1].Trim(), System.Globalization.CultureInfo.InvariantCulture);

    private static char State(string task)
    {
        string stat = File.ReadAllText(Path.Combine(task, "stat"));
        return stat[stat.LastIndexOf(')') + 2]; // "pid (comm) S ...": the name may hold spaces and parentheses
    }
}
