using System.Diagnostics;
using NativeReload.Reloading;
using NativeReload.Tests.Support;
using static NativeReload.Tests.Reliability.ReliabilitySupport;

namespace NativeReload.Tests.Reliability;

/// <summary>
/// Long runs in one process: many reloads must not pile up copies, descriptors or memory. The figures are printed
/// (TestContext.Out) and recorded in docs/reliability.md. Reproduce with
/// <c>dotnet test tests/NativeReload.Tests --filter TestCategory=Soak --logger "console;verbosity=detailed"</c>.
/// </summary>
[TestFixture]
[NonParallelizable]
[Category("Soak")]
public sealed class SoakTests
{
    private LibraryDirectory _dir = null!;

    [SetUp]
    public void SetUp()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("reads /proc/self; Linux only");
        }

        _dir = new LibraryDirectory();
    }

    [TearDown]
    public void TearDown() => _dir?.Dispose();

    [Test]
    public void TenThousandReloads_OfAPlainCLibrary_KeepCopiesDescriptorsAndMemoryFlat() =>
        Soak("greeter", reloads: 10_000, warmup: 200, maxRssGrowthKiB: 32 * 1024, expectUnmapped: true);

    [Test]
    public void ThousandReloads_OfALibraryThatCannotUnload_LeakOnlyItsMappings()
    {
        if (!TestPaths.HasFixtureGroup("nodelete"))
        {
            Assert.Ignore("fixture group 'nodelete' was not built");
        }

        // Every retired copy of a NODELETE library stays mapped for good (and counts against vm.max_map_count,
        // 65530 by default): 10,000 of them would be ~50,000 mappings, so this runs fewer and reports the cost.
        Soak("nodelete", reloads: 1_000, warmup: 20, maxRssGrowthKiB: 64 * 1024, expectUnmapped: false);
    }

    private void Soak(string prefix, int reloads, int warmup, long maxRssGrowthKiB, bool expectUnmapped)
    {
        // NATIVERELOAD_SOAK_SCALE (e.g. 0.1) shortens or lengthens the run for local experiments.
        if (double.TryParse(Environment.GetEnvironmentVariable("NATIVERELOAD_SOAK_SCALE"), System.Globalization.CultureInfo.InvariantCulture, out double scale) && scale > 0)
        {
            reloads = Math.Max(5, (int)(reloads * scale));
        }

        byte[][] builds = [File.ReadAllBytes(TestPaths.Fixture($"{prefix}_v1")), File.ReadAllBytes(TestPaths.Fixture($"{prefix}_v2"))];
        _dir.ReplaceByRename(builds[0]);
        using var library = new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, GreeterExports.Bind, Options(watch: false));
        int stayedMapped = 0;
        int unmapped = 0;
        library.GenerationRetired += (_, e) =>
        {
            if (e.Unmapped == false)
            {
                stayedMapped++;
            }
            else
            {
                unmapped++;
            }
        };

        int maxCopies = 0;
        using var stop = new CancellationTokenSource();
        var sampler = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                maxCopies = Math.Max(maxCopies, CountCopies(library.ShadowDirectory));
                Thread.Sleep(1);
            }
        }) { IsBackground = true }; // only reads the directory: harmless if a failed assertion leaves it running
        sampler.Start();

        int n = 0;
        var inReload = new Stopwatch();
        void ReloadOnce()
        {
            n++;
            _dir.ReplaceByRename(builds[n % 2]);
            inReload.Start();
            ReloadOutcome outcome = library.Reload();
            inReload.Stop();
            if (outcome != ReloadOutcome.Loaded)
            {
                Assert.Fail($"reload {n}: {outcome}: {library.LastFailure?.Message}");
            }

            using var scope = library.Enter();
            if (scope.Exports.Version != n % 2 + 1)
            {
                Assert.Fail($"reload {n}: version {scope.Exports.Version}, expected {n % 2 + 1}");
            }
        }

        for (int i = 0; i < warmup; i++)
        {
            ReloadOnce();
        }

        long rssBefore = RssKiB();
        int fdsBefore = OpenFileDescriptors();
        int mapsBefore = AllMappings();
        TestContext.Out.WriteLine($"{prefix}: after {warmup} warm-up reloads: RSS {rssBefore} KiB, {fdsBefore} fds, {mapsBefore} mappings");
        int maxFds = fdsBefore;
        var clock = Stopwatch.StartNew();
        inReload.Reset();
        for (int i = 1; i <= reloads; i++)
        {
            ReloadOnce();
            if (i % (reloads / 5) == 0)
            {
                int fds = OpenFileDescriptors();
                maxFds = Math.Max(maxFds, fds);
                TestContext.Out.WriteLine($"{prefix}: {i,6} reloads, {clock.Elapsed.TotalSeconds,5:F1} s: RSS {RssKiB()} KiB, {fds} fds, {AllMappings()} mappings, {CountCopies(library.ShadowDirectory)} copies");
            }
        }

        TimeSpan elapsed = clock.Elapsed;
        stop.Cancel();
        Assert.That(sampler.Join(TimeSpan.FromSeconds(10)), Is.True, "the sampler stopped");
        long rssAfter = RssKiB();
        int fdsAfter = OpenFileDescriptors();
        int mapsAfter = AllMappings();
        string shadowFragment = library.ShadowDirectory;
        int leftCopyMappings = Mappings(shadowFragment);
        TestContext.Out.WriteLine(
            $"{prefix}: {reloads} reloads in {elapsed.TotalSeconds:F1} s ({elapsed.TotalMilliseconds * 1000 / reloads:F0} us each, {inReload.Elapsed.TotalMilliseconds * 1000 / reloads:F0} us in Reload()); "
            + $"RSS {rssBefore} -> {rssAfter} KiB ({rssAfter - rssBefore:+#;-#;0} KiB, {(rssAfter - rssBefore) * 1024.0 / reloads:F0} B/reload); "
            + $"fds {fdsBefore} -> {fdsAfter} (max {maxFds}); mappings {mapsBefore} -> {mapsAfter} ({(mapsAfter - mapsBefore) / (double)reloads:F2}/reload), "
            + $"{leftCopyMappings} mappings of shadow copies; copies on disk max {maxCopies}; retired {unmapped} unmapped, {stayedMapped} stayed mapped");

        Assert.Multiple(() =>
        {
            Assert.That(maxCopies, Is.LessThanOrEqualTo(2), "shadow copies on disk at any time");
            Assert.That(CountCopies(library.ShadowDirectory), Is.EqualTo(1), "after the run only the current copy");
            Assert.That(fdsAfter - fdsBefore, Is.LessThanOrEqualTo(3), "open file descriptors stay flat");
            Assert.That(rssAfter - rssBefore, Is.LessThan(maxRssGrowthKiB), "RSS growth (KiB)");
            if (expectUnmapped)
            {
                Assert.That(stayedMapped, Is.Zero);
                Assert.That(mapsAfter - mapsBefore, Is.LessThan(50), "mappings stay flat");
                Assert.That(leftCopyMappings, Is.LessThanOrEqualTo(8), "only the current copy is mapped");
            }
            else
            {
                Assert.That(stayedMapped, Is.EqualTo(reloads + warmup), "every retired copy stayed mapped");
            }
        });
    }
}
