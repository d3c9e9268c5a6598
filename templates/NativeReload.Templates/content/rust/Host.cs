using NativeReload.Building;
using NativeReload.Reloading;

namespace NativeHost;

/// <summary>Builds the native library, loads it, rebuilds it whenever a source file is saved, and prints its message.</summary>
internal static class Host
{
    public static async Task<int> RunAsync(string library, string build, string sources, string[] args)
    {
        long ticks = args.Length > 0 ? long.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : long.MaxValue;
        int intervalMs = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1000;
        string here = Directory.GetCurrentDirectory();

        BuildResult first = await BuildCommandRunner.RunAsync(build, here, line => Console.Error.WriteLine("build| " + line), CancellationToken.None);
        if (!first.Succeeded)
        {
            Console.Error.WriteLine($"error: the first build failed (exit {first.ExitCode}): {build}");
            return 1;
        }

        using ReloadableLibrary<HostLib> lib = HostLib.Load(library);
        lib.Reloaded += (_, e) => Console.Error.WriteLine($"reloaded generation {e.Generation} ({e.LoadDuration.TotalMilliseconds:F1} ms)");
        lib.ReloadFailed += (_, f) => Console.Error.WriteLine($"reload failed: {f.Detail}; still running generation {f.RunningGeneration}");

        // Rebuild on every save under native/ (build output, .gitignore'd files and editor temporaries are ignored).
        using var rebuild = new RebuildScheduler(build, sources, new SourceChangeFilter(sources, library), TimeSpan.FromMilliseconds(30), here);
        rebuild.BuildOutput += line => Console.Error.WriteLine("build| " + line);
        rebuild.BuildFinished += result =>
        {
            if (!result.Succeeded)
            {
                Console.Error.WriteLine($"build failed (exit {result.ExitCode}); still running generation {lib.Current.Number}");
            }
        };
        rebuild.Start();

        for (long tick = 0; tick < ticks; tick++)
        {
            using (var scope = lib.Enter())
            {
                Console.WriteLine($"message: {scope.Exports.GetMessage()}");
            }

            Thread.Sleep(intervalMs);
        }

        return 0;
    }
}
