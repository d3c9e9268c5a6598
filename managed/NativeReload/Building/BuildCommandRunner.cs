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
        ProcessStartInfo start = CreateStartInfo(command, workingDirectory, OperatingSystem.IsWindows());
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        start.UseShellExecute = false;

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

    /// <summary>How the shell is started for <paramref name="command"/> (public for its tests, which run on every OS).</summary>
    /// <param name="command">The user's command line, passed to the shell as typed.</param>
    /// <param name="workingDirectory">Where to run it.</param>
    /// <param name="windows">True for <c>cmd.exe</c>, false for <c>/bin/sh</c>.</param>
    internal static ProcessStartInfo CreateStartInfo(string command, string workingDirectory, bool windows)
    {
        var start = new ProcessStartInfo { FileName = windows ? "cmd.exe" : "/bin/sh", WorkingDirectory = workingDirectory };
        if (windows)
        {
            // cmd does not parse its command line the way ArgumentList escapes it (\" for a quote): give it the raw
            // line. With /s, cmd strips exactly the outer pair of quotes and runs the rest as typed.
            start.Arguments = $"/d /s /c \"{command}\"";
        }
        else
        {
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(command);
        }

        return start;
    }
}
