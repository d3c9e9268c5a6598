using System.CommandLine;
using Microsoft.Extensions.Logging;
using NativeReload.Cli.Running;

namespace NativeReload.Cli.Commands;

/// <summary>
/// <c>nativereload watch &lt;library&gt; --build "&lt;command&gt;" --source &lt;dir&gt; [--ignore &lt;glob&gt;]... [--call ...] [--every ...] [--count ...]</c>:
/// <c>run</c>, plus a rebuild whenever the sources change.
/// </summary>
internal static class WatchCommand
{
    public static Command Create(Func<ILoggerFactory> loggers, Func<CancellationToken> cancellation)
    {
        var loop = new LoopOptions();
        var build = new Option<string>("--build") { Description = "The build command, run through the shell, e.g. \"cmake --build build\" or \"cargo build --offline\".", Required = true };
        var source = new Option<string>("--source") { Description = "The source directory to watch (recursively).", Required = true };
        var debounce = new Option<string>("--debounce")
        {
            Description = "Quiet time after the last saved file before a build starts.",
            DefaultValueFactory = _ => "30ms",
        };
        var ignore = new Option<string[]>("--ignore")
        {
            Description = "A gitignore-style glob, relative to --source, whose changes never start a build (repeat it for more).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        debounce.Validators.Add(result =>
        {
            if (!IntervalParser.TryParse(result.GetValueOrDefault<string>() ?? string.Empty, out _, out string? error))
            {
                result.AddError($"--debounce: {error}");
            }
        });
        source.Validators.Add(result =>
        {
            string? dir = result.GetValueOrDefault<string>();
            if (dir is not null && !Directory.Exists(dir))
            {
                result.AddError($"--source: {dir}: directory not found");
            }
        });

        var command = new Command("watch", "Like run, and rebuild the library with the build command whenever a source file changes.");
        loop.AddTo(command);
        command.Options.Add(build);
        command.Options.Add(source);
        command.Options.Add(debounce);
        command.Options.Add(ignore);
        command.SetAction(parse =>
        {
            var settings = new WatchSettings(
                parse.GetValue(loop.Library)!,
                parse.GetValue(loop.Call)!,
                loop.Interval(parse),
                parse.GetValue(loop.Count),
                parse.GetValue(build)!,
                parse.GetValue(source)!,
                IntervalParser.Parse(parse.GetValue(debounce)!),
                parse.GetValue(ignore) ?? []);
            return WatchSession.Run(settings, Console.Out, Console.Error, loggers(), cancellation());
        });
        return command;
    }
}
