using System.Collections.Concurrent;
using System.Diagnostics;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Reliability;

/// <summary>A child process (the published CLI) whose stdout and stderr lines are collected as they arrive.</summary>
internal sealed class CliHost : IDisposable
{
    private readonly ConcurrentQueue<string> _output = new();
    private readonly ConcurrentQueue<string> _error = new();

    public CliHost(ProcessStartInfo start)
    {
        Process = new Process { StartInfo = start };
        Process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _output.Enqueue(e.Data);
            }
        };
        Process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _error.Enqueue(e.Data);
            }
        };
        Process.Start();
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    public Process Process { get; }

    public string Output => string.Join('\n', _output);

    public string Error => string.Join('\n', _error);

    public IReadOnlyList<string> ErrorLines => _error.ToArray();

    public void WaitForOutput(Func<string, bool> condition, string what) =>
        Eventually.That(() => _output.Any(condition) || Exited(what), what);

    public void WaitForError(Func<string, bool> condition, string what) =>
        Eventually.That(() => _error.Any(condition) || Exited(what), what);

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit();
        }

        Process.Dispose();
    }

    private bool Exited(string what)
    {
        if (Process.HasExited)
        {
            Process.WaitForExit();
            Assert.Fail($"the host exited with {Process.ExitCode} before {what}; stdout: {Output}; stderr: {Error}");
        }

        return false;
    }
}
