using System.CommandLine;
using Microsoft.Extensions.Logging;
using NativeReload.Cli.Running;

namespace NativeReload.Cli.Commands;

/// <summary><c>nativereload run &lt;library&gt; [--call &lt;export&gt;] [--every &lt;interval&gt;] [--count &lt;n&gt;]</c>.</summary>
internal static class RunCommand
{
    public static Command Create(Func<ILoggerFactory> loggers, Func<CancellationToken> cancellation)
    {
        var loop = new LoopOptions();
        var command = new Command("run", "Load a library, call an export every interval and print its message; reload the library when its file changes.");
        loop.AddTo(command);
        command.SetAction(parse =>
        {
            using ReloadLoop? session = ReloadLoop.Open(parse.GetValue(loop.Library)!, parse.GetValue(loop.Call)!, Console.Error, loggers());
            if (session is null)
            {
                return ExitCodes.LoadFailed;
            }

            session.Run(loop.Interval(parse), parse.GetValue(loop.Count), Console.Out, cancellation());
            return ExitCodes.Success;
        });
        return command;
    }
}
