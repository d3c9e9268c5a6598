using NativeReload.Loading;
using NativeReload.Reloading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Loading;

/// <summary>
/// Near <c>vm.max_map_count</c> a reload is refused with a clear failure and the current generation keeps serving
/// (issue 14 item 4). The limit is played through the <see cref="MappingBudget"/> seam, not by exhausting the maps.
/// </summary>
[TestFixture]
public sealed class MappingBudgetTests
{
    private const long Limit = 1000;

    // 90 % of 1000 = 900 usable; a load needs 64 of headroom: 836 mappings still load, 837 do not.
    private const long LastCountThatLoads = 836;

    [Test]
    public void Reload_NearTheMappingLimit_IsRefusedWithAClearReason_AndTheCurrentGenerationKeepsServing()
    {
        using var dir = new LibraryDirectory("maps");
        dir.ReplaceByRename("greeter_v1");
        using var library = new ReloadableLibrary<GreeterExports>(dir.LibraryPath, GreeterExports.Bind,
            new ReloadableLibraryOptions { WatchForChanges = false });
        var failures = new List<ReloadFailedEventArgs>();
        library.ReloadFailed += (_, e) => failures.Add(e);
        dir.ReplaceByRename("greeter_v2");

        ReloadOutcome refused;
        using (MappingBudget.Override(new MappingBudget(() => Limit, () => LastCountThatLoads + 1)))
        {
            refused = library.Reload();
        }

        Assert.Multiple(() =>
        {
            Assert.That(refused, Is.EqualTo(ReloadOutcome.Failed));
            Assert.That(library.LastFailure?.Reason, Is.EqualTo(ReloadFailureReason.HostError));
            Assert.That(library.LastFailure?.Message, Does.StartWith(dir.LibraryPath + ": "));
            Assert.That(library.LastFailure?.Detail, Does.Contain("837 memory mappings").And.Contain("vm.max_map_count is 1000"));
            Assert.That(failures, Has.Count.EqualTo(1), "reported once, through ReloadFailed");
            Assert.That(library.Current.Number, Is.EqualTo(1), "the last good generation keeps serving");
            Assert.That(Message(library), Is.EqualTo("Hello from v1"));
        });

        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded), "with room again, the same build loads");
        Assert.That(Message(library), Is.EqualTo("Hello from v2"));
    }

    [Test]
    public void Reload_JustInsideTheMargin_Loads()
    {
        using var dir = new LibraryDirectory("maps-ok");
        dir.ReplaceByRename("greeter_v1");
        using var library = new ReloadableLibrary<GreeterExports>(dir.LibraryPath, GreeterExports.Bind,
            new ReloadableLibraryOptions { WatchForChanges = false });
        dir.ReplaceByRename("greeter_v2");

        using (MappingBudget.Override(new MappingBudget(() => Limit, () => LastCountThatLoads)))
        {
            Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));
        }
    }

    [Test]
    public void FirstLoad_NearTheMappingLimit_ThrowsLibraryLoadExceptionNamingTheFile()
    {
        using var dir = new LibraryDirectory("maps-first");
        dir.ReplaceByRename("greeter_v1");
        using (MappingBudget.Override(new MappingBudget(() => Limit, () => Limit)))
        {
            var e = Assert.Throws<LibraryLoadException>(() => new ReloadableLibrary<GreeterExports>(dir.LibraryPath, GreeterExports.Bind,
                new ReloadableLibraryOptions { WatchForChanges = false }).Dispose());
            Assert.That(e!.Message, Does.StartWith(dir.LibraryPath + ": not loaded: the process already has 1000 memory mappings"));
        }
    }

    [Test]
    public void UnknownLimitOrCount_RefusesNothing()
    {
        Assert.DoesNotThrow(() => new MappingBudget(() => null, () => long.MaxValue).EnsureRoomFor("x.so"));
        Assert.DoesNotThrow(() => new MappingBudget(() => Limit, () => null).EnsureRoomFor("x.so"));
    }

    [Test]
    public void ThisProcess_HasACountAndALimit_OnLinux()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.That(MappingInspector.CountMappings(), Is.Null);
            return;
        }

        long? count = MappingInspector.CountMappings();
        long? limit = MappingInspector.MappingLimit();
        int lines = File.ReadAllLines("/proc/self/maps").Length;
        Assert.Multiple(() =>
        {
            Assert.That(count, Is.InRange(lines - 200, lines + 200), "one mapping per line of /proc/self/maps");
            Assert.That(limit, Is.GreaterThan(count ?? long.MaxValue), "a live process is below its limit");
        });
    }

    [Test]
    public void FarFromTheLimit_CountsAtMostOncePerInterval_NearItCountsEveryLoad()
    {
        int counts = 0;
        long mappings = 100;
        var budget = new MappingBudget(() => Limit, () =>
        {
            counts++;
            return mappings;
        }, recountAfter: TimeSpan.FromHours(1));

        for (int i = 0; i < 5; i++)
        {
            budget.EnsureRoomFor("x.so"); // 100 + 64 per load stays below 900 for these five
        }

        Assert.That(counts, Is.EqualTo(1), "far from the limit: one count serves several loads");

        counts = 0;
        for (int i = 0; i < 10; i++)
        {
            budget.EnsureRoomFor("x.so"); // 100 + 13 * 64 passes 900: the 13th load since the count counts again
        }

        Assert.That(counts, Is.GreaterThanOrEqualTo(1), "near the threshold the count is taken again");
        mappings = LastCountThatLoads + 1;
        Assert.Throws<LibraryLoadException>(() =>
        {
            for (int i = 0; i < 20; i++)
            {
                budget.EnsureRoomFor("x.so");
            }
        }, "a real rise in mappings is seen before the threshold is passed");
    }

    private static string Message(ReloadableLibrary<GreeterExports> library)
    {
        using var scope = library.Enter();
        return scope.Exports.GetMessage();
    }
}
