using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NativeReload.Reloading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Docs;

/// <summary>
/// Every C# block in README.md and docs/*.md compiles as a user would paste it: into a fresh console app (top-level
/// statements, implicit usings, nullable, no <c>AllowUnsafeBlocks</c>) that references the NativeReload package.
/// A block that needs more says so in an HTML comment on the line before its fence:
/// <c>&lt;!-- doc-check: unsafe --&gt;</c> (the project must set AllowUnsafeBlocks, and the text says so), or
/// <c>&lt;!-- doc-check: fragment (why) --&gt;</c> (not a whole program on purpose; skipped).
/// </summary>
[TestFixture]
public sealed partial class DocSnippetTests
{
    /// <summary>The usings a <c>dotnet new console</c> project gets from <c>ImplicitUsings</c>.</summary>
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    public sealed record Snippet(string File, int Line, string Code, bool Unsafe, bool Fragment, bool FragmentReasonGiven)
    {
        public override string ToString() => $"{File}:{Line}";
    }

    /// <summary>Whole programs: each is a test case. Fragments are not (they are checked by <see cref="Fragments_SayWhy"/>).</summary>
    public static IEnumerable<TestCaseData> Snippets() =>
        AllSnippets().Where(s => !s.Fragment).Select(s => new TestCaseData(s).SetName($"Snippet_Compiles({s})"));

    private static IEnumerable<Snippet> AllSnippets()
    {
        var files = new List<string> { Path.Combine(TestPaths.RepoRoot, "README.md") };
        files.AddRange(Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "docs"), "*.md").Order(StringComparer.Ordinal));
        return files.SelectMany(Extract).ToList();
    }

    [Test]
    public void TheDocsHaveWholeProgramSnippets_AndTheReadmeHasOne()
    {
        Snippet[] whole = AllSnippets().Where(s => !s.Fragment).ToArray();
        Assert.That(whole, Has.Length.GreaterThanOrEqualTo(3), "the extractor finds the guides' blocks");
        Assert.That(whole.Select(s => s.File), Does.Contain("README.md"), "the README's library example is a whole program");
    }

    [Test]
    public void Fragments_SayWhy() =>
        Assert.That(AllSnippets().Where(s => s.Fragment && !s.FragmentReasonGiven).Select(s => s.ToString()), Is.Empty,
            "a block marked <!-- doc-check: fragment (reason) --> gives its reason");

    [TestCaseSource(nameof(Snippets))]
    public void Snippet_Compiles(Snippet snippet)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Preview);
        SyntaxTree code = CSharpSyntaxTree.ParseText(snippet.Code, parse, path: snippet.ToString());
        SyntaxTree usings = CSharpSyntaxTree.ParseText(ImplicitUsings, parse, path: "GlobalUsings.g.cs");
        var compilation = CSharpCompilation.Create(
            "DocSnippet",
            [code, usings],
            References(),
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: snippet.Unsafe));

        // The package's source generator runs in the user's build: run it here too ([NativeExports] blocks need it).
        GeneratorDriver driver = CSharpGeneratorDriver.Create(PackageGenerator()).WithUpdatedParseOptions(parse);
        driver.RunGeneratorsAndUpdateCompilation(compilation, out Compilation generated, out _);
        string[] errors = generated.GetDiagnostics()
            .Where(d => d.Severity == DiagnosticSeverity.Error)
            .Select(d => d.ToString())
            .ToArray();
        Assert.That(errors, Is.Empty, $"{snippet} does not compile as pasted into a console app:\n{snippet.Code}");
    }

    /// <summary>
    /// The [NativeExports] generator the package ships (analyzers/dotnet/cs), from the build output of the same
    /// configuration as this test assembly.
    /// </summary>
    private static ISourceGenerator PackageGenerator()
    {
        string configuration = new DirectoryInfo(Path.GetDirectoryName(typeof(DocSnippetTests).Assembly.Location)!).Name;
        string path = Path.Combine(TestPaths.RepoRoot, "artifacts", "dotnet", "bin", "NativeReload.Generators", configuration, "NativeReload.Generators.dll");
        Assert.That(File.Exists(path), Is.True, $"the generator {path} was not built (dotnet build NativeReload.sln)");
        Type type = System.Reflection.Assembly.LoadFrom(path).GetType("NativeReload.Generators.NativeExportsGenerator", throwOnError: true)!;
        return ((IIncrementalGenerator)Activator.CreateInstance(type)!).AsSourceGenerator();
    }

    private static IEnumerable<MetadataReference> References()
    {
        string trusted = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
        IEnumerable<string> framework = trusted.Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal)
                        || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll" or "Microsoft.Win32.Primitives.dll");
        string[] package =
        [
            typeof(ReloadableLibrary<>).Assembly.Location,
            typeof(Microsoft.Extensions.Logging.ILogger).Assembly.Location,
            typeof(CommunityToolkit.HighPerformance.Buffers.StringPool).Assembly.Location,
        ];
        return framework.Concat(package).Distinct().Select(p => MetadataReference.CreateFromFile(p));
    }

    private static IEnumerable<Snippet> Extract(string file)
    {
        string[] lines = File.ReadAllLines(file);
        string relative = Path.GetRelativePath(TestPaths.RepoRoot, file);
        for (int i = 0; i < lines.Length; i++)
        {
            if (!FenceStart().IsMatch(lines[i]))
            {
                continue;
            }

            string directive = i > 0 ? lines[i - 1] : string.Empty;
            int start = i + 1;
            int end = start;
            while (end < lines.Length && lines[end].Trim() != "```")
            {
                end++;
            }

            yield return new Snippet(
                relative,
                start,
                string.Join('\n', lines[start..end]),
                directive.Contains("doc-check: unsafe", StringComparison.Ordinal),
                directive.Contains("doc-check: fragment", StringComparison.Ordinal),
                directive.Contains("doc-check: fragment (", StringComparison.Ordinal));
            i = end;
        }
    }

    [GeneratedRegex(@"^\s*```(csharp|cs|c#)\s*$")]
    private static partial Regex FenceStart();
}
