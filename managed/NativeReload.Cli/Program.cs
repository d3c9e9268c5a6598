using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using NativeReload.Cli;
using NativeReload.Cli.Commands;

// Ctrl+C and SIGTERM end the loop cleanly (exit 0) so the library is disposed and its shadow copies removed.
using var cancel = new CancellationTokenSource();
using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

var verbosity = new Option<LogLevel>("--log-level")
{
    Description = "Diagnostics written to stderr (Trace, Debug, Information, Warning, Error, None).",
    DefaultValueFactory = _ => LogLevel.Error,
    Recursive = true,
};
ILoggerFactory? loggerFactory = null;
LogLevel level = LogLevel.Error;
ILoggerFactory Loggers() => loggerFactory ??= LoggerFactory.Create(builder => builder
    .SetMinimumLevel(level)
    .AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace)); // stdout carries only "message:" lines

// A plain command named "nativereload" rather than RootCommand, whose name would be the assembly's
// (NativeReload.Cli): help and usage must show the command users type.
var root = new Command("nativereload", "Hot-reload a native shared library in a running .NET process.")
{
    new System.CommandLine.Help.HelpOption(),
    new VersionOption(),
    RunCommand.Create(Loggers, () => cancel.Token),
    WatchCommand.Create(Loggers, () => cancel.Token),
    WorkerSubcommand.Create(),
};
root.Options.Add(verbosity);

ParseResult parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (System.CommandLine.Parsing.ParseError error in parse.Errors)
    {
        Console.Error.WriteLine($"error: {error.Message}");
    }

    Console.Error.WriteLine("usage: nativereload run <library> [--call <export>] [--every <interval>] [--count <n>] [--isolate [--timeout <interval>]]");
    Console.Error.WriteLine("       nativereload watch <library> --build <command> --source <dir> [--ignore <glob>]... [--call <export>] [--every <interval>] [--count <n>]");
    Console.Error.WriteLine("       (nativereload --help for more)");
    return ExitCodes.Usage;
}

level = parse.GetValue(verbosity);
try
{
    return parse.Invoke(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false });
}
finally
{
    loggerFactory?.Dispose();
}

void Stop(PosixSignalContext context)
{
    context.Cancel = true; // do not let the runtime kill the process: finish the tick and clean up
    cancel.Cancel();
}
