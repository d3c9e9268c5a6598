using NativeReload.Reloading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Plugins;

/// <summary>The plugin contract (native/include/nativereload.h): state that survives reloads, hooks, version checks.</summary>
[TestFixture]
[NonParallelizable]
public sealed class PluginContractTests
{
    private LibraryDirectory _dir = null!;

    [SetUp]
    public void SetUp()
    {
        if (!TestPaths.HasFixtureGroup("counter"))
        {
            Assert.Fail("the counter fixtures were not built (build/fixtures/fixtures.txt has no 'counter')");
        }

        _dir = new LibraryDirectory("counter");
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private ReloadableLibrary<CounterExports> Open(string fixture, ApplyMode mode = ApplyMode.Immediately, uint? api = null)
    {
        _dir.ReplaceByRename(fixture);
        return new ReloadableLibrary<CounterExports>(_dir.LibraryPath, CounterExports.Bind,
            new ReloadableLibraryOptions { ApplyMode = mode, WatchForChanges = false, ExpectedApiVersion = api });
    }

    private static string Call(ReloadableLibrary<CounterExports> library)
    {
        using var scope = library.Enter();
        return scope.Exports.GetMessage();
    }

    [Test]
    public void Counter_ContinuesAcrossTenRebuilds()
    {
        using var library = Open("counter_v1");
        Assert.That(Call(library), Is.EqualTo("v1 count 1"));
        for (int rebuild = 1; rebuild <= 10; rebuild++)
        {
            string fixture = rebuild % 2 == 1 ? "counter_v2" : "counter_v1";
            _dir.ReplaceByRename(fixture);
            Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded), library.LastFailure?.Message);
            Assert.That(Call(library), Is.EqualTo($"{fixture[^2..]} count {rebuild + 1}"), $"rebuild {rebuild}");
        }

        Assert.That(library.Current.Number, Is.EqualTo(11));
        Assert.That(library.State!.Layout, Is.EqualTo(1));
    }

    [Test]
    public void FailingLoadHook_RollsBack_WithStateIntact_AndTheNextGoodBuildContinuesTheCount()
    {
        using var library = Open("counter_v1");
        var recorder = new LibraryRecorder<CounterExports>(library);
        Call(library);
        Call(library);
        byte[] before = library.State!.Bytes.ToArray();

        _dir.ReplaceByRename("counter_failload");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));
        ReloadFailedEventArgs failure = recorder.Failures.Single();
        Assert.Multiple(() =>
        {
            Assert.That(failure.Reason, Is.EqualTo(ReloadFailureReason.InitFailed));
            Assert.That(failure.Detail, Is.EqualTo("nr_load returned 7; rolled back to generation 1 with its state"));
            Assert.That(failure.RunningGeneration, Is.EqualTo(1));
            Assert.That(library.State!.Bytes.ToArray(), Is.EqualTo(before), "the refused load and the rollback leave the block as it was");
            Assert.That(library.Current.Number, Is.EqualTo(1));
            Assert.That(recorder.Reloads, Is.Empty);
        });
        Assert.That(Call(library), Is.EqualTo("v1 count 3"), "the old generation resumed with its state");

        _dir.ReplaceByRename("counter_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(Call(library), Is.EqualTo("v2 count 4"));
    }

    [Test]
    public void FailingLoadHook_InSafePointMode_IsRefusedAtTheSafePoint()
    {
        using var library = Open("counter_v1", ApplyMode.AtSafePoint);
        Assert.That(library.Current.Exports.GetMessage(), Is.EqualTo("v1 count 1"));
        _dir.ReplaceByRename("counter_failload");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded), "validated and pending; the hook runs at the safe point");
        Assert.That(library.ApplyPendingReload(), Is.False);
        Assert.That(library.LastFailure?.Reason, Is.EqualTo(ReloadFailureReason.InitFailed));
        Assert.That(library.Current.Exports.GetMessage(), Is.EqualTo("v1 count 2"));
    }

    [Test]
    public void AbiVersionMismatch_IsRefused_NamingBothVersions()
    {
        using var library = Open("counter_v1");
        Call(library);
        _dir.ReplaceByRename("counter_abi2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));
        Assert.That(library.LastFailure!.Reason, Is.EqualTo(ReloadFailureReason.AbiMismatch));
        Assert.That(library.LastFailure.Detail, Is.EqualTo("ABI version mismatch: the library was built against nativereload.h ABI 2, this host speaks ABI 1"));
        Assert.That(Call(library), Is.EqualTo("v1 count 2"));
    }

    [Test]
    public void ApiVersion_IsChecked_OnlyWhenTheHostAsks()
    {
        var e = Assert.Throws<LibraryLoadException>(() => Open("counter_v1", api: 5));
        Assert.That(e!.Reason, Is.EqualTo(ReloadFailureReason.AbiMismatch));
        Assert.That(e.Detail, Is.EqualTo("API version mismatch: the library implements API 0, this host expects API 5"));

        using var library = Open("counter_api5", api: 5);
        Assert.That(Call(library), Is.EqualTo("api5 count 1"));
    }

    [Test]
    public void StateLayoutChange_IsHandedToTheLibrary_WhichMigrates_AndAnOlderLayoutIsRefused()
    {
        using var library = Open("counter_v1");
        Call(library);
        Call(library);
        Assert.That(library.State!.Size, Is.EqualTo(136));

        _dir.ReplaceByRename("counter_layout2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded), library.LastFailure?.Message);
        Assert.That(Call(library), Is.EqualTo("v2-layout count 3 (migrated from layout 1)"));
        Assert.That(library.State!.Layout, Is.EqualTo(2));
        Assert.That(library.State.Size, Is.EqualTo(144), "the block grew to what layout 2 asks for");

        _dir.ReplaceByRename("counter_v1"); // knows only layout 1: must refuse, not read garbage
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Failed));
        Assert.That(library.LastFailure!.Detail, Does.StartWith("nr_load returned 2; rolled back to generation 2"));
        Assert.That(Call(library), Is.EqualTo("v2-layout count 4 (migrated from layout 1)"));
    }

    [Test]
    public void RustCounter_ReloadsWithState_AndSharesTheBlockWithTheCSample()
    {
        if (!TestPaths.HasFixtureGroup("rust_counter"))
        {
            Assert.Ignore("cargo was not found when the native side was built: no Rust fixtures");
        }

        using var library = Open("rust_counter_v1");
        Assert.That(Call(library), Is.EqualTo("rust v1 count 1"));
        _dir.ReplaceByRename("rust_counter_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded), library.LastFailure?.Message);
        Assert.That(Call(library), Is.EqualTo("rust v2 count 2"));
        _dir.ReplaceByRename("counter_v1");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded), library.LastFailure?.Message);
        Assert.That(Call(library), Is.EqualTo("v1 count 3"), "same layout-1 struct in C and Rust");
    }

    [Test]
    public void LibraryWithoutTheContract_HasNoStateBlock_AndStillReloads()
    {
        _dir.ReplaceByRename("greeter_v1");
        using var library = new ReloadableLibrary<GreeterExports>(_dir.LibraryPath, GreeterExports.Bind,
            new ReloadableLibraryOptions { WatchForChanges = false });
        Assert.That(library.State, Is.Null);
        _dir.ReplaceByRename("greeter_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
    }

    [Test]
    public void Hooks_RunWhileNoThreadIsInside_AndTheCountNeverSkipsOrRepeats()
    {
        using var library = Open("counter_v1");
        var counts = new List<long>();
        using var stop = new CancellationTokenSource();
        var caller = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var scope = library.Enter();
                string message = scope.Exports.GetMessage();
                counts.Add(long.Parse(message[(message.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
            }
        }) { IsBackground = true };
        caller.Start();
        try
        {
            for (int i = 0; i < 100; i++)
            {
                _dir.ReplaceByRename(i % 2 == 0 ? "counter_v2" : "counter_v1");
                Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded), library.LastFailure?.Message);
            }
        }
        finally
        {
            // Stopped on every path, before the library is disposed: a failed assertion fails the test, never hangs it.
            stop.Cancel();
            Assert.That(caller.Join(TimeSpan.FromSeconds(10)), Is.True, "the calling thread stopped");
        }

        Assert.That(counts, Has.Count.GreaterThan(100));
        Assert.That(counts, Is.EqualTo(Enumerable.Range(1, counts.Count).Select(n => (long)n)),
            "every call counted exactly once: no call ran in a generation whose state was handed over");
    }

    [Test]
    public void Cli_KeepsCountingAcrossRebuilds()
    {
        _dir.ReplaceByRename("counter_v1");
        using var host = new HostProcess(["run", _dir.LibraryPath, "--every", "20ms"]);
        host.WaitForStdout("message: v1 count 3");
        _dir.ReplaceByRename("counter_v2");
        Eventually.That(() => host.Stdout.Any(l => l.StartsWith("message: v2 count ", StringComparison.Ordinal)), "the v2 build");
        string[] lines = [.. host.Stdout];
        long[] numbers = lines.Select(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.That(numbers, Is.EqualTo(Enumerable.Range(1, numbers.Length).Select(n => (long)n)), string.Join("\n", lines));
    }
}
