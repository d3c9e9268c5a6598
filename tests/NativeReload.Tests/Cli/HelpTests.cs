using System.Text.RegularExpressions;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Cli;

/// <summary>The CLI's help names the command users type, and the README's CLI reference is checked against it.</summary>
[TestFixture]
public sealed partial class HelpTests
{
    private static string Help(params string[] arguments)
    {
        using var host = new HostProcess(arguments);
        Assert.That(host.WaitForExit(), Is.Zero);
        return string.Join('\n', host.Stdout);
    }

    [Test]
    public void Help_ShowsTheCommandName_AndEveryCommand()
    {
        string help = Help("--help");
        Assert.That(help, Does.Contain("Usage:\n  nativereload [command] [options]"));
        Assert.That(help, Does.Not.Contain("NativeReload.Cli"));
        Assert.That(help, Does.Contain("run <library>").And.Contain("watch <library>"));
        Assert.That(help, Does.Not.Contain("worker"), "the worker subcommand is internal");
    }

    [TestCase("run")]
    [TestCase("watch")]
    public void ReadmeCliReference_NamesEveryOptionOfTheParser(string command)
    {
        string readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md"));
        int start = readme.IndexOf("## The CLI", StringComparison.Ordinal);
        Assert.That(start, Is.GreaterThanOrEqualTo(0), "README.md has a section '## The CLI'");
        int end = readme.IndexOf("\n## ", start + 5, StringComparison.Ordinal);
        string reference = readme[start..(end < 0 ? readme.Length : end)];
        string[] options = [.. OptionName().Matches(Help(command, "--help")).Select(m => m.Groups[1].Value).Distinct()
            .Where(o => o is not "--help" and not "--version")];

        Assert.That(options, Is.Not.Empty);
        Assert.That(options.Where(o => !reference.Contains(o, StringComparison.Ordinal)), Is.Empty,
            $"options of '{command}' that README.md's CLI reference does not mention");
    }

    [GeneratedRegex(@"^\s+(?:-\S+, )*(--[a-z-]+)", RegexOptions.Multiline)]
    private static partial Regex OptionName();
}
