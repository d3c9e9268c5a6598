using System.CommandLine;
using Microsoft.Extensions.Logging;
using NativeReload.Cli.Running;

namespace NativeReload.Cli.Commands;

/// <summary><c>nativereload run &lt;library&gt; [--call &lt;export&gt;] [--every &lt;interval&gt;] [--count &lt;n&gt;] [--isolate [--timeout &lt;interval&gt;]]</c>.</summary>
internal static class RunCommand
{
    public static Command Create(Func<ILoggerFactory> loggers, Func<CancellationToken> cancellation)
    {
        var loop = new LoopOptions();
        var command = new Command("run", "Load a library, call an export every interval and print its message; reload the library when its file changes.");
        loop.AddTo(command);
        var isolate = new Option<bool>("--isolate")
        {
            Description = "Run the library in a worker process: a crash (segfault, abort, exit) or a hang in it is reported, the worker is restarted on the last good generation, and the loop goes on.",
        };
        var timeout = new Option<string>("--timeout")
        {
            Description = "With --isolate: a call or load that takes longer is treated as a crash (250ms, 2s).",
            DefaultValueFactory = _ => "2s",
        };
        timeout.Validators.Add(result =>
        {
            if (!IntervalParser.TryParse(result.GetValueOrDefault<string>() ?? string.Empty, out _, out string? error))
            {
                result.AddError($"--timeout: {error}");
            }
            else if (!result.Implicit && (result.GetResult(isolate)?.GetValueOrDefault<bool>() ?? false) == false)
            {
                result.AddError("--timeout needs --isolate");
            }
        });
        command.Options.Add(isolate);
        command.Options.Add(timeout);
        command.SetAction(parse =>
        {
            if (parse.GetValue(isolate))
            {
                using IsolatedLoop? isolated = IsolatedLoop.Open(parse.GetValue(loop.Library)!, parse.GetValue(loop.Call)!,
                    IntervalParser.Parse(parse.GetValue(timeout)!), Console.Error, loggers());
                if (isolated is null)
                {
                    return ExitCodes.LoadFailed;
                }

                return isolated.Run(loop.Interval(parse), parse.GetValue(loop.Count), Console.Out, cancellation());
            }

            using ReloadLoop? session = ReloadLoop.Open(parse.GetValue(loop.Library)!, parse.GetValue(loop.Call)!, Console.Error, loggers());
            if (session is null)
            {
                return ExitCodes.LoadFailed;
            }

            return session.Run(loop.Interval(parse), parse.GetValue(loop.Count), Console.Out, cancellation());
        });
        return command;
    }
}
