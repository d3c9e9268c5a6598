using System.CommandLine;
using Microsoft.Extensions.Logging;
using NativeReload.Cli.Running;

namespace NativeReload.Cli.Commands;

/// <summary><c>nativereload run &lt;library&gt; [--call &lt;export&gt;] [--every &lt;interval&gt;] [--count &lt;n&gt;]</c>.</summary>
internal static class RunCommand
{
    public static Command Create(Func<ILoggerFactory> loggers, Func<CancellationToken> cancellation)
    {
        var library = new Argument<string>("library") { Description = "The shared library to load and watch (.so, .dylib or .dll)." };
        var call = new Option<string>("--call")
        {
            Description = "Export to call each tick; it must have the C signature const char* name(void).",
            DefaultValueFactory = _ => "get_message",
        };
        var every = new Option<string>("--every")
        {
            Description = "Interval between calls: 250ms, 1s, 1.5s, 2m.",
            DefaultValueFactory = _ => "1s",
        };
        var count = new Option<long?>("--count") { Description = "Stop after this many calls (default: run until Ctrl+C)." };

        every.Validators.Add(result =>
        {
            if (!IntervalParser.TryParse(result.GetValueOrDefault<string>() ?? string.Empty, out _, out string? error))
            {
                result.AddError($"--every: {error}");
            }
        });
        count.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<long?>() is < 1)
            {
                result.AddError("--count must be at least 1");
            }
        });

        var command = new Command("run", "Load a library, call an export every interval and print its message; reload the library when its file changes.")
        {
            library, call, every, count,
        };
        command.SetAction(parse =>
        {
            var settings = new RunSettings(parse.GetValue(library)!, parse.GetValue(call)!, IntervalParser.Parse(parse.GetValue(every)!), parse.GetValue(count));
            return ReloadLoop.Run(settings, Console.Out, Console.Error, loggers(), cancellation());
        });
        return command;
    }
}
