using System.CommandLine;
using NativeReload.Isolation;

namespace NativeReload.Cli.Commands;

/// <summary>
/// <c>nativereload worker &lt;socket&gt;</c> (hidden): the child process of <c>run --isolate</c>. The isolated host starts
/// its own executable with it, so the worker is always the same build as the host; see docs/isolation.md.
/// </summary>
internal static class WorkerSubcommand
{
    public static Command Create()
    {
        var socket = new Argument<string>("socket") { Description = "The host's Unix domain socket." };
        var command = new Command("worker", "Internal: the worker process of run --isolate.") { Hidden = true };
        command.Arguments.Add(socket);
        command.SetAction(parse => IsolationWorker.Run(parse.GetValue(socket)!));
        return command;
    }
}
