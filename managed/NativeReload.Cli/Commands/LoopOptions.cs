using System.CommandLine;
using NativeReload.Cli.Running;

namespace NativeReload.Cli.Commands;

/// <summary>The options every command that runs the call loop shares: <c>--call</c>, <c>--every</c>, <c>--count</c>.</summary>
internal sealed class LoopOptions
{
    public LoopOptions()
    {
        Every.Validators.Add(result =>
        {
            if (!IntervalParser.TryParse(result.GetValueOrDefault<string>() ?? string.Empty, out _, out string? error))
            {
                result.AddError($"--every: {error}");
            }
        });
        Count.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<long?>() is < 1)
            {
                result.AddError("--count must be at least 1");
            }
        });
    }

    public Argument<string> Library { get; } = new("library") { Description = "The shared library to load and watch (.so, .dylib or .dll)." };

    public Option<string> Call { get; } = new("--call")
    {
        Description = "Export to call each tick; it must have the C signature const char* name(void).",
        DefaultValueFactory = _ => "get_message",
    };

    public Option<string> Every { get; } = new("--every")
    {
        Description = "Interval between calls: 250ms, 1s, 1.5s, 2m.",
        DefaultValueFactory = _ => "1s",
    };

    public Option<long?> Count { get; } = new("--count") { Description = "Stop after this many calls (default: run until Ctrl+C)." };

    public void AddTo(Command command)
    {
        command.Arguments.Add(Library);
        command.Options.Add(Call);
        command.Options.Add(Every);
        command.Options.Add(Count);
    }

    public TimeSpan Interval(ParseResult parse) => IntervalParser.Parse(parse.GetValue(Every)!);
}
