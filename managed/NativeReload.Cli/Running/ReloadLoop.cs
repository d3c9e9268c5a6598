using Microsoft.Extensions.Logging;
using NativeReload.Reloading;

namespace NativeReload.Cli.Running;

/// <summary>
/// The classic demo loop: call an export once per tick, print <c>message: &lt;text&gt;</c> on stdout, and apply a
/// validated reload at the top of each tick (the safe point), reporting reloads and failures on stderr.
/// </summary>
internal static class ReloadLoop
{
    public static int Run(RunSettings settings, TextWriter stdout, TextWriter stderr, ILoggerFactory loggers, CancellationToken cancel)
    {
        var options = new ReloadableLibraryOptions { ApplyMode = ApplyMode.AtSafePoint };
        ReloadableLibrary<MessageExport> library;
        try
        {
            library = new ReloadableLibrary<MessageExport>(
                settings.LibraryPath,
                exports => new MessageExport(exports.Require(settings.Export)),
                options,
                loggers.CreateLogger("NativeReload"));
        }
        catch (LibraryLoadException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.LoadFailed;
        }

        using (library)
        {
            library.Reloaded += (_, e) =>
                stderr.WriteLine($"reloaded {e.FilePath} (generation {e.Generation}, {e.LoadDuration.TotalMilliseconds:F1} ms)");
            library.ReloadFailed += (_, e) =>
                stderr.WriteLine($"reload failed: {e.FilePath}: {e.Detail}; still running generation {e.RunningGeneration}");
            library.GenerationRetired += (_, e) =>
            {
                if (e.Unmapped == false)
                {
                    stderr.WriteLine($"note: generation {e.Generation} of {e.FilePath} stays mapped (the loader does not unload it); its memory is kept until exit");
                }
            };

            for (long tick = 0; settings.Count is null || tick < settings.Count; tick++)
            {
                if (tick > 0 && cancel.WaitHandle.WaitOne(settings.Interval))
                {
                    break;
                }

                if (cancel.IsCancellationRequested)
                {
                    break;
                }

                library.ApplyPendingReload();
                stdout.WriteLine($"message: {library.Current.Exports.Call()}");
            }
        }

        return ExitCodes.Success;
    }
}
