using Microsoft.Extensions.Logging;
using NativeReload.Building;

namespace NativeReload.Cli.Running;

/// <summary>What <c>nativereload watch</c> was asked to do.</summary>
internal sealed record WatchSettings(
    string LibraryPath, string Export, TimeSpan Interval, long? Count, string BuildCommand, string SourceDirectory, TimeSpan Debounce, IReadOnlyList<string> IgnoreGlobs);

/// <summary>
/// Edit, save, see it: rebuilds on every source change (output prefixed with <c>build| </c> on stderr), reloads the
/// library right after a successful build, and shows the new message at once. A failing build keeps the running
/// generation and says so.
/// </summary>
internal static class WatchSession
{
    public const string OutputPrefix = "build| ";

    public static int Run(WatchSettings settings, TextWriter stdout, TextWriter stderr, ILoggerFactory loggers, CancellationToken cancel)
    {
        // What is build output is decided by what a file is (the library, object files, build folders, .gitignore
        // rules), never by the folder it sits in: the library may sit next to its sources.
        var filter = new SourceChangeFilter(settings.SourceDirectory, settings.LibraryPath, settings.IgnoreGlobs);
        using var scheduler = new RebuildScheduler(
            settings.BuildCommand, settings.SourceDirectory, filter, settings.Debounce, logger: loggers.CreateLogger("NativeReload.Watch"));
        if (scheduler.Scan.Files.Count == 0)
        {
            stderr.WriteLine(NothingToWatch(settings.SourceDirectory, scheduler.Scan));
            return ExitCodes.Usage;
        }

        stderr.WriteLine(scheduler.Scan.Describe(settings.SourceDirectory, filter));
        scheduler.BuildStarted += command => stderr.WriteLine($"build: {command}");
        scheduler.BuildOutput += line => stderr.WriteLine(OutputPrefix + line);

        // First build before the first load, so the host starts on what the sources say now.
        BuildResult first = scheduler.BuildNowAsync(cancel).GetAwaiter().GetResult();
        if (cancel.IsCancellationRequested)
        {
            return ExitCodes.Success;
        }

        if (!first.Succeeded)
        {
            stderr.WriteLine(File.Exists(settings.LibraryPath)
                ? $"build failed (exit {first.ExitCode}); starting with the existing {settings.LibraryPath}"
                : $"build failed (exit {first.ExitCode})");
        }

        using ReloadLoop? loop = ReloadLoop.Open(settings.LibraryPath, settings.Export, stderr, loggers);
        if (loop is null)
        {
            return ExitCodes.LoadFailed;
        }

        var reporter = new BuildStatusReporter(loop, stderr);
        scheduler.BuildStarted += _ => reporter.BuildStarted();
        scheduler.BuildFinished += reporter.BuildFinished;
        scheduler.Start();
        return loop.Run(settings.Interval, settings.Count, stdout, cancel); // exit 1 when the export is not a readable string, as `run` does
    }

    private static string NothingToWatch(string source, SourceTreeScan scan) => scan.IgnoredCount == 0
        ? $"error: {source}: no files to watch (the folder is empty); --source names the folder that holds the sources"
        : $"error: {source}: no file here would start a build ({scan.IgnoredCount} ignored: {string.Join(", ", scan.Ignored.Take(6))}); "
          + "--source names the folder that holds the sources (--log-level Debug shows why each is ignored)";
}
