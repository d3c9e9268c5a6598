using System.Diagnostics;

namespace NativeReload.Building;

/// <summary>The end of one build.</summary>
/// <param name="ExitCode">The build command's exit code (0 = success); -1 when it could not be started or was cancelled.</param>
/// <param name="Duration">Wall time of the build.</param>
/// <param name="Cancelled">True when the build was stopped before it finished.</param>
public sealed record BuildResult(int ExitCode, TimeSpan Duration, bool Cancelled)
{
    /// <summary>True when the build finished with exit code 0.</summary>
    public bool Succeeded => ExitCode == 0 && !Cancelled;
}

/// <summary>
/// Runs a user's build command through the platform shell (<c>/bin/sh -c</c>, or <c>cmd.exe /c</c> on Windows), streaming
/// every output line, and kills the whole process tree when cancelled.
/// </summary>
public static class BuildCommandRunner
{
    /// <summary>Runs <paramref name="command"/> in <paramref name="workingDirectory"/> and waits for it.</summary>
    /// <param name="command">A shell command line, e.g. <c>cmake --build build</c> or <c>cargo build --offline</c>.</param>
    /// <param name="workingDirectory">Where to run it.</param>
    /// <param name="onOutput">Receives each line of stdout and stderr as it arrives (from a pool thread).</param>
    /// <param name="cancel">Stops the build: the process tree is killed.</param>
    public static async Task<BuildResult> RunAsync(string command, string workingDirectory, Action<string> onOutput, CancellationToken cancel)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        ArgumentNullException.ThrowIfNull(onOutput);
        var start = new ProcessStartInfo
        {
            FileName = OperatingSystem.IsWindows() ? "cmd.exe" : "/bin/sh",
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (OperatingSystem.IsWindows())
        {
            start.ArgumentList.Add("/d");
            start.ArgumentList.Add("/s");
            start.ArgumentList.Add("/c");
        }
        else
        {
            start.ArgumentList.Add("-c");
        }

        start.ArgumentList.Add(command);

        long started = Stopwatch.GetTimestamp();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { onOutput(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { onOutput(e.Data); } };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            onOutput($"cannot start the build command: {e.Message}");
            return new BuildResult(-1, Stopwatch.GetElapsedTime(started), Cancelled: false);
        }

        process.StandardInput.Close(); // a build that asks a question must not hang the host
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await process.WaitForExitAsync(cancel).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // it exited meanwhile
            }

            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            return new BuildResult(-1, Stopwatch.GetElapsedTime(started), Cancelled: true);
        }

        process.WaitForExit(); // flushes the asynchronous output readers
        return new BuildResult(process.ExitCode, Stopwatch.GetElapsedTime(started), Cancelled: false);
    }
}
