using Microsoft.Extensions.Logging;
using NativeReload.Isolation;
using NativeReload.Reloading;

namespace NativeReload.Cli.Running;

/// <summary>
/// <c>run --isolate</c>: the same loop as <see cref="ReloadLoop"/>, with the library in a worker process. Besides the
/// reload lines it prints <c>crashed: &lt;file&gt; generation N (signal SIGSEGV)</c> when the worker dies; the tick
/// that crashed is retried once on the restarted worker, so the beat goes on with the last good generation.
/// </summary>
internal sealed class IsolatedLoop : IDisposable
{
    private readonly IsolatedLibrary _library;
    private readonly string _export;
    private readonly TextWriter _stderr;
    private bool _saidUnavailable;

    private IsolatedLoop(IsolatedLibrary library, string export, TextWriter stderr)
    {
        _library = library;
        _export = export;
        _stderr = stderr;
        library.Reloaded += (_, e) =>
        {
            _saidUnavailable = false;
            _stderr.WriteLine(ReportLines.Reloaded(e));
        };
        library.ReloadFailed += (_, e) => _stderr.WriteLine(ReportLines.ReloadFailed(e));
        library.Crashed += (_, e) => _stderr.WriteLine(e.ToString());
    }

    /// <summary>Starts the worker and loads the library; on failure prints <c>error: &lt;file&gt;: &lt;reason&gt;</c> and returns null.</summary>
    public static IsolatedLoop? Open(string libraryPath, string export, TimeSpan timeout, TextWriter stderr, ILoggerFactory loggers)
    {
        try
        {
            var library = new IsolatedLibrary(libraryPath, new IsolatedLibraryOptions
            {
                RequiredExports = [export],
                CallTimeout = timeout,
                WorkerOutput = line => stderr.WriteLine("worker| " + line),
            }, loggers.CreateLogger("NativeReload"));
            return new IsolatedLoop(library, export, stderr);
        }
        catch (LibraryLoadException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return null;
        }
        catch (InvalidOperationException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return null;
        }
    }

    /// <summary>Ticks until <paramref name="count"/> calls were made or <paramref name="cancel"/> fires.</summary>
    /// <returns>
    /// The exit code: <see cref="ExitCodes.Success"/>, or <see cref="ExitCodes.LoadFailed"/> when <paramref name="count"/>
    /// calls were made and none printed a message (every generation crashed): a run that showed nothing did not succeed.
    /// </returns>
    public int Run(TimeSpan interval, long? count, TextWriter stdout, CancellationToken cancel)
    {
        long calls = 0;
        bool printed = false;
        for (long tick = 0; count is null || tick < count; tick++)
        {
            if (tick > 0 && cancel.WaitHandle.WaitOne(interval))
            {
                break;
            }

            calls++;
            if (Call() is { } message)
            {
                stdout.WriteLine($"message: {message}");
                printed = true;
            }
        }

        if (count is not null && calls == count && !printed)
        {
            _stderr.WriteLine($"error: {_library.FilePath}: none of the {calls} calls printed a message");
            return ExitCodes.LoadFailed;
        }

        return ExitCodes.Success;
    }

    private string? Call()
    {
        for (int attempt = 0; attempt < 2; attempt++)
        {
            try
            {
                return _library.CallString(_export) ?? "(null)";
            }
            catch (WorkerCrashedException)
            {
                // reported by the Crashed event; the worker was restarted on the last good generation: try once more
            }
            catch (IsolatedLibraryUnavailableException e)
            {
                if (!_saidUnavailable)
                {
                    _stderr.WriteLine($"error: {e.Message}");
                    _saidUnavailable = true;
                }

                return null;
            }
            catch (IsolatedCallException e)
            {
                _stderr.WriteLine($"error: {e.Message}");
                return null;
            }
        }

        return null;
    }

    public void Dispose() => _library.Dispose();
}
