using Microsoft.Extensions.Logging;
using NativeReload.Reloading;

namespace NativeReload.Cli.Running;

/// <summary>
/// The classic demo loop: call an export once per tick, print <c>message: &lt;text&gt;</c> on stdout, and apply a
/// validated reload at the top of each tick (the safe point), reporting reloads and failures on stderr, one line each.
/// </summary>
internal sealed class ReloadLoop : IDisposable
{
    private readonly TextWriter _stderr;
    private readonly string _export;
    private readonly AutoResetEvent _wake = new(false);
    private volatile bool _closing;

    private ReloadLoop(ReloadableLibrary<MessageExport> library, string export, TextWriter stderr)
    {
        Library = library;
        _export = export;
        _stderr = stderr;
        WriteWarnings(library.Current);
        library.Reloaded += (_, e) =>
        {
            if (DescribeReload(e) is { } line)
            {
                _stderr.WriteLine(line);
            }

            // Raised by ApplyPendingReload on the loop's thread, right after the swap: Current is the new generation.
            NativeReload.Loading.LibraryGeneration current = Library.Current;
            if (current.Number == e.Generation)
            {
                WriteWarnings(current);
            }
        };
        library.ReloadFailed += (_, e) => _stderr.WriteLine(ReportLines.ReloadFailed(e));
        library.GenerationRetired += (_, e) =>
        {
            if (e.Unmapped == false && !_closing) // at exit every library goes away anyway: no note then
            {
                _stderr.WriteLine($"note: generation {e.Generation} of {e.FilePath} stays mapped (the loader does not unload it); its memory is kept until exit");
            }
        };
    }

    public ReloadableLibrary<MessageExport> Library { get; }

    /// <summary>Loads the library; on failure prints <c>error: &lt;file&gt;: &lt;reason&gt;</c> and returns null.</summary>
    /// <param name="libraryPath">The library file.</param>
    /// <param name="export">The export to call each tick.</param>
    /// <param name="stderr">Where reload lines go.</param>
    /// <param name="loggers">Diagnostics.</param>
    /// <param name="watchFile">Reload when the file changes; false when the caller reloads after its own builds.</param>
    public static ReloadLoop? Open(string libraryPath, string export, TextWriter stderr, ILoggerFactory loggers, bool watchFile = true)
    {
        try
        {
            var library = new ReloadableLibrary<MessageExport>(
                libraryPath,
                exports => new MessageExport(exports.Require(export)),
                new ReloadableLibraryOptions { ApplyMode = ApplyMode.AtSafePoint, WatchForChanges = watchFile },
                loggers.CreateLogger("NativeReload"));
            return new ReloadLoop(library, export, stderr);
        }
        catch (LibraryLoadException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return null;
        }
    }

    /// <summary>
    /// Turns a reload into its stderr line, or null to print nothing. The default is
    /// <c>reloaded &lt;file&gt; (generation N, X ms)</c>; <c>watch</c> replaces it to speak of builds.
    /// </summary>
    public Func<ReloadedEventArgs, string?> DescribeReload { get; set; } = ReportLines.Reloaded;

    /// <summary>Applies a pending reload and prints the new message now, without waiting for the next tick.</summary>
    public void Wake() => _wake.Set();

    /// <summary>Ticks until <paramref name="count"/> calls were made or <paramref name="cancel"/> fires.</summary>
    /// <returns><see cref="ExitCodes.Success"/>, or <see cref="ExitCodes.LoadFailed"/> after printing
    /// <c>error: &lt;file&gt;: &lt;export&gt; did not return a readable string (…)</c> when the export is not
    /// <c>const char* name(void)</c>.</returns>
    public int Run(TimeSpan interval, long? count, TextWriter stdout, CancellationToken cancel)
    {
        WaitHandle[] waits = [cancel.WaitHandle, _wake];
        for (long tick = 0; count is null || tick < count; tick++)
        {
            if (tick > 0)
            {
                int woke = WaitHandle.WaitAny(waits, interval);
                if (woke == 0 || cancel.IsCancellationRequested)
                {
                    break;
                }

                if (woke == 1 && !Library.HasPendingReload)
                {
                    tick--; // nothing new to show: keep the rhythm
                    continue;
                }
            }

            Library.ApplyPendingReload();

            // The export was named on the command line, so what it returns is read under a guard (once per tick).
            if (!Library.Current.Exports.TryCall(out string? message, out string? problem))
            {
                _stderr.WriteLine($"error: {Library.FilePath}: {_export} did not return a readable string ({problem})");
                return ExitCodes.LoadFailed;
            }

            stdout.WriteLine($"message: {message}");
        }

        return ExitCodes.Success;
    }

    /// <summary>One <c>warning: &lt;file&gt;: &lt;text&gt;</c> line per warning of a generation, when it becomes current.</summary>
    private void WriteWarnings(NativeReload.Loading.LibraryGeneration generation)
    {
        foreach (string warning in generation.Warnings)
        {
            _stderr.WriteLine($"warning: {generation.FilePath}: generation {generation.Number} {warning}");
        }
    }

    public void Dispose()
    {
        _closing = true;
        Library.Dispose();
        _wake.Dispose();
    }
}
