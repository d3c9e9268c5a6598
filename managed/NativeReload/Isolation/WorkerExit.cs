namespace NativeReload.Isolation;

/// <summary>How a worker process ended (or stopped answering).</summary>
public sealed class WorkerExit
{
    private WorkerExit(int? exitCode, int? signal, bool timedOut, TimeSpan timeout, string description)
    {
        ExitCode = exitCode;
        Signal = signal;
        TimedOut = timedOut;
        Timeout = timeout;
        Description = description;
    }

    /// <summary>The exit status as the runtime reports it (on Unix <c>128 + signal</c> for a signal); null when unknown.</summary>
    public int? ExitCode { get; }

    /// <summary>The signal that killed the worker (Unix); null otherwise.</summary>
    public int? Signal { get; }

    /// <summary>True when the worker did not answer within the timeout and was killed by the host.</summary>
    public bool TimedOut { get; }

    /// <summary>The timeout that was exceeded (when <see cref="TimedOut"/>).</summary>
    public TimeSpan Timeout { get; }

    /// <summary><c>signal SIGSEGV</c>, <c>exit code 3</c>, <c>exception 0xC0000005 (access violation)</c>, <c>no answer within 2 s</c>.</summary>
    public string Description { get; }

    /// <inheritdoc/>
    public override string ToString() => Description;

    internal static WorkerExit NoAnswer(TimeSpan timeout, int? exitCode) =>
        new(exitCode, null, true, timeout, $"no answer within {FormatInterval(timeout)}");

    /// <summary>The worker answered something that is not an answer (it was killed: it cannot be in step any more).</summary>
    internal static WorkerExit BrokeProtocol(string detail) => new(null, null, false, TimeSpan.Zero, $"broke the protocol: {detail}");

    internal static WorkerExit Unknown() => new(null, null, false, TimeSpan.Zero, "the worker did not exit; killed");

    /// <summary>Describes an exit code as <see cref="System.Diagnostics.Process.ExitCode"/> reports it.</summary>
    internal static WorkerExit FromExitCode(int code)
    {
        if (OperatingSystem.IsWindows())
        {
            uint status = unchecked((uint)code);
            if (status >= 0xC0000000 || status is 0x80000003 or 0xE0434352)
            {
                return new WorkerExit(code, null, false, TimeSpan.Zero, $"exception 0x{status:X8} ({NtStatusName(status)})");
            }

            return new WorkerExit(code, null, false, TimeSpan.Zero, $"exit code {code}");
        }

        // .NET reports a child killed by signal N as 128 + N: an exit(139) looks the same as SIGSEGV (docs/isolation.md).
        if (code is > 128 and < 128 + 65)
        {
            int signal = code - 128;
            return new WorkerExit(code, signal, false, TimeSpan.Zero, $"signal {SignalName(signal)}");
        }

        return new WorkerExit(code, null, false, TimeSpan.Zero, $"exit code {code}");
    }

    /// <summary>250 ms, 2 s, 1.5 s.</summary>
    internal static string FormatInterval(TimeSpan interval) =>
        interval < TimeSpan.FromSeconds(1)
            ? $"{interval.TotalMilliseconds:0.#} ms"
            : $"{interval.TotalSeconds:0.###} s";

    internal static string SignalName(int signal) => signal switch
    {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 when !OperatingSystem.IsMacOS() => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 when OperatingSystem.IsMacOS() => "SIGBUS",
        11 => "SIGSEGV",
        12 when OperatingSystem.IsMacOS() => "SIGSYS",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        31 when !OperatingSystem.IsMacOS() => "SIGSYS",
        _ => $"{signal}",
    };

    private static string NtStatusName(uint status) => status switch
    {
        0xC0000005 => "access violation",
        0xC00000FD => "stack overflow",
        0xC0000409 => "fail fast / stack buffer overrun",
        0xC000001D => "illegal instruction",
        0xC0000094 => "integer division by zero",
        0xC0000374 => "heap corruption",
        0x80000003 => "breakpoint",
        0xE0434352 => "unhandled .NET exception",
        _ => "unhandled exception",
    };
}
