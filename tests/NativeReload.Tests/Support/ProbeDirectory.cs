using Microsoft.Extensions.Logging;
using NativeReload.Reloading;

namespace NativeReload.Tests.Support;

/// <summary>
/// A <see cref="LibraryDirectory"/> for the state_probe fixtures (native/fixtures/state_probe.c) and the file their
/// <c>nr_load</c>/<c>nr_unload</c> hooks log to: what the failure-path and fault-injection tests share.
/// </summary>
internal sealed class ProbeDirectory : IDisposable
{
    public ProbeDirectory(string name)
    {
        if (!TestPaths.HasFixtureGroup("state_probe") || !TestPaths.HasFixtureGroup("greeter"))
        {
            Assert.Fail("the state_probe and greeter fixtures were not built (build/fixtures/fixtures.txt)");
        }

        Files = new LibraryDirectory(name);
        HookLog = System.IO.Path.Combine(Files.Path, "hooks.log");
    }

    /// <summary>The directory and the library path tests replace.</summary>
    public LibraryDirectory Files { get; }

    /// <summary>The file every nr_load/nr_unload of a library opened by <see cref="Open"/> appends a line to.</summary>
    public string HookLog { get; }

    /// <summary>Puts <paramref name="fixture"/> at the path and opens it (not watched), with the hook log named in its state block.</summary>
    public ReloadableLibrary<ProbeExports> Open(string fixture, ReloadableLibraryOptions? options = null, ILogger? logger = null)
    {
        Files.ReplaceByRename(fixture);
        options ??= new ReloadableLibraryOptions();
        options.WatchForChanges = false;
        var library = new ReloadableLibrary<ProbeExports>(Files.LibraryPath, ProbeExports.Bind, options, logger);
        using (var scope = library.Enter())
        {
            scope.Exports.SetLog(HookLog);
        }

        return library;
    }

    /// <summary>The hook log's lines so far ("load kind=K gen=N", "unload gen=N"); generation 1's first load is not in it.</summary>
    public string[] HookLines() => File.Exists(HookLog) ? File.ReadAllLines(HookLog) : [];

    public void Dispose() => Files.Dispose();
}
