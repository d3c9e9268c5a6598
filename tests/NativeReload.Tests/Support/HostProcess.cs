using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace NativeReload.Tests.Support;

/// <summary>The published <c>nativereload</c> host running as a child process, its output collected line by line.</summary>
internal sealed partial class HostProcess : IDisposable
{
    private readonly Process _process;

    public HostProcess(IEnumerable<string> arguments, string? shadowRoot = null, string? workingDirectory = null, Dictionary<string, string>? environment = null)
    {
        if (!File.Exists(TestPaths.Cli))
        {
            Assert.Fail($"{TestPaths.Cli} is missing: run ./build.sh first (it publishes the host there)");
        }

        var start = new ProcessStartInfo(TestPaths.Cli)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        if (shadowRoot is not null)
        {
            start.Environment["NATIVERELOAD_SHADOW_ROOT"] = shadowRoot;
        }

        foreach ((string name, string value) in environment ?? [])
        {
            start.Environment[name] = value;
        }

        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) { Stdout.Enqueue(e.Data); } };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Stderr.Enqueue(e.Data); } };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public ConcurrentQueue<string> Stdout { get; } = new();

    public ConcurrentQueue<string> Stderr { get; } = new();

    public int Pid => _process.Id;

    /// <summary>Waits for the process to exit and returns its exit code (after all output was read).</summary>
    public int WaitForExit(TimeSpan? timeout = null)
    {
        if (!_process.WaitForExit(timeout ?? TimeSpan.FromSeconds(30)))
        {
            _process.Kill(entireProcessTree: true);
            Assert.Fail($"the host did not exit; stderr: {string.Join(" | ", Stderr)}");
        }

        _process.WaitForExit(); // drains the redirected streams
        return _process.ExitCode;
    }

    public void WaitForStdout(string line, string? because = null) =>
        Eventually.That(() => Stdout.Contains(line), because ?? $"stdout line '{line}' (stderr so far: {string.Join(" | ", Stderr)})");

    public void WaitForStderr(Func<string, bool> predicate, string what) =>
        Eventually.That(() => Stderr.Any(predicate), $"{what} (stderr so far: {string.Join(" | ", Stderr)})");

    /// <summary>Sends SIGTERM (Unix) like a service manager or `kill` would.</summary>
    public void Terminate()
    {
        if (Kill(_process.Id, 15) != 0)
        {
            Assert.Fail($"kill(SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
