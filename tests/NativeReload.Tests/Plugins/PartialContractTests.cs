using NativeReload.Reloading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Plugins;

/// <summary>
/// Libraries that implement only part of the plugin contract (native/fixtures/state_probe.c built without
/// <c>nr_get_plugin_info</c>, <c>nr_load</c> or <c>nr_unload</c>, or with an info export that returns NULL): the host
/// calls the hooks that are there, at the same moments as for a full plugin, and never the ones that are not.
/// The hooks log to <c>STATE_PROBE_LOG</c>, set before the first load, so every call is in the log.
/// </summary>
[TestFixture]
[NonParallelizable]
[Platform("Linux", Reason = "the probe fixtures are POSIX-only")]
public sealed class PartialContractTests
{
    private const string FallbackLog = "STATE_PROBE_LOG";
    private ProbeDirectory _probe = null!;

    [SetUp]
    public void SetUp()
    {
        _probe = new ProbeDirectory("partial");
        NativeEnvironment.Set(FallbackLog, _probe.HookLog);
    }

    [TearDown]
    public void TearDown()
    {
        NativeEnvironment.Set(FallbackLog, null);
        _probe.Dispose();
    }

    [Test]
    public void OnlyNrUnload_RunsBeforeEveryUnload_TheReloadsAndTheDisposes()
    {
        var library = _probe.Open("state_probe_unload_only");
        _probe.Files.ReplaceByRename("state_probe_unload_only_v2");

        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(library.Current.Exports.GetMessage(), Is.EqualTo("probe unload only v2"));
        Assert.That(_probe.HookLines(), Is.EqualTo(new[] { "unload gen=1" }), "the replaced generation was told");

        library.Dispose();

        Assert.That(_probe.HookLines(), Is.EqualTo(new[] { "unload gen=1", "unload gen=2" }),
            "the last generation is told too: nr_unload means 'you are about to be unloaded', with or without nr_load");
    }

    [Test]
    public void OnlyInfoAndNrLoad_IsLoadedAndReloaded_AndNoMissingNrUnloadIsCalled()
    {
        var library = _probe.Open("state_probe_load_only");
        _probe.Files.ReplaceByRename("state_probe_v2");

        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        library.Dispose();

        Assert.That(_probe.HookLines(), Is.EqualTo(new[] { "load kind=0 gen=1", "load kind=1 gen=2", "unload gen=2" }),
            "generation 1 has no nr_unload: nothing is called for it, and the host does not crash calling it");
    }

    [Test]
    public void OnlyTheInfoExport_IsStillAPlugin_SoItsVersionsAreChecked()
    {
        // A library that declares its versions but needs no hooks (stateless, or state it keeps itself) must not
        // slip past the version check because nr_load and nr_unload are missing.
        _probe.Files.ReplaceByRename("state_probe_info_only");

        var e = Assert.Throws<LibraryLoadException>(() => _ = new ReloadableLibrary<ProbeExports>(
            _probe.Files.LibraryPath, ProbeExports.Bind, new ReloadableLibraryOptions { WatchForChanges = false, ExpectedApiVersion = 5 }))!;
        Assert.That(e.Reason, Is.EqualTo(ReloadFailureReason.AbiMismatch));
        Assert.That(e.Detail, Is.EqualTo("API version mismatch: the library implements API 0, this host expects API 5"));

        using (var library = new ReloadableLibrary<ProbeExports>(
            _probe.Files.LibraryPath, ProbeExports.Bind, new ReloadableLibraryOptions { WatchForChanges = false, ExpectedApiVersion = 0 }))
        {
            Assert.That(library.Current.Exports.GetMessage(), Is.EqualTo("probe info only"), "the API it declares is accepted");
        }

        Assert.That(_probe.HookLines(), Is.Empty, "no hook exists, none is called");
    }

    [Test]
    public void InfoExportReturningNull_MeansNoInfo_SoTheBlockIsEmptyAndTheProbeRefusesIt()
    {
        _probe.Files.ReplaceByRename("state_probe_null_info");

        var e = Assert.Throws<LibraryLoadException>(() => _ = new ReloadableLibrary<ProbeExports>(
            _probe.Files.LibraryPath, ProbeExports.Bind, new ReloadableLibraryOptions { WatchForChanges = false }))!;

        Assert.That(e.Reason, Is.EqualTo(ReloadFailureReason.InitFailed));
        Assert.That(e.Detail, Is.EqualTo("nr_load returned 1 on the first load"),
            "no info: a zero-sized block, which the probe's nr_load refuses (it needs sizeof(probe_state))");
    }
}
