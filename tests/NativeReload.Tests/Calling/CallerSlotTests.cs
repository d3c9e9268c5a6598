using NativeReload.Calling;
using NativeReload.Reloading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Calling;

[TestFixture]
[NonParallelizable]
public sealed class CallerSlotTests
{
    [Test]
    public void ForCurrentThread_IsOnePerThread()
    {
        CallerSlot mine = CallerSlot.ForCurrentThread();
        CallerSlot? other = null;
        var thread = new Thread(() => other = CallerSlot.ForCurrentThread());
        thread.Start();
        Assert.That(thread.Join(TimeSpan.FromSeconds(10)), Is.True);

        Assert.That(CallerSlot.ForCurrentThread(), Is.SameAs(mine));
        Assert.That(mine.OwnerThreadId, Is.EqualTo(Environment.CurrentManagedThreadId));
        Assert.That(other, Is.Not.Null.And.Not.SameAs(mine));
        Assert.That(other!.OwnerThreadId, Is.EqualTo(thread.ManagedThreadId));
    }

    [Test]
    public void EnterWithASlot_KeepsItsGenerationAlive_UntilTheScopeEnds()
    {
        using var dir = new LibraryDirectory();
        dir.ReplaceByRename("greeter_v1");
        using var library = new ReloadableLibrary<GreeterExports>(dir.LibraryPath, GreeterExports.Bind,
            new ReloadableLibraryOptions { WatchForChanges = false });
        var recorder = new LibraryRecorder<GreeterExports>(library);
        CallerSlot me = CallerSlot.ForCurrentThread();

        Task<ReloadOutcome> reload;
        using (var scope = library.Enter(me))
        {
            dir.ReplaceByRename("greeter_v2");
            reload = Task.Run(library.Reload); // swaps at once, then waits for this scope before freeing generation 1
            Eventually.That(() => library.Current.Number == 2, "the swap");
            Thread.Sleep(200);
            Assert.That(recorder.Retired, Is.Empty, "generation 1 must not be freed while a scope is inside it");
            Assert.That(scope.Exports.GetMessage(), Is.EqualTo("Hello from v1"), "the scope still calls its own generation");
        }

        Assert.That(reload.Wait(TimeSpan.FromSeconds(10)), Is.True);
        Assert.That(reload.Result, Is.EqualTo(ReloadOutcome.Loaded));
        Assert.That(recorder.Retired.Single().Generation, Is.EqualTo(1));
        using (var scope = library.Enter(me))
        {
            Assert.That(scope.Exports.GetMessage(), Is.EqualTo("Hello from v2"));
        }
    }
}
