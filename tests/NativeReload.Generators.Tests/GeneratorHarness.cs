using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Testing;

namespace NativeReload.Generators.Tests;

/// <summary>
/// Runs the generator the way a user's build does: C# latest, nullable on, unsafe code allowed or not (by default
/// <b>not</b>: the testing library allows it, a project that turned it off does not), against the running runtime's
/// assemblies and NativeReload.dll, so nothing is downloaded.
/// </summary>
internal sealed class GeneratorTest : CSharpSourceGeneratorTest<NativeExportsGenerator, DefaultVerifier>
{
    private readonly bool _allowUnsafe;

    public GeneratorTest(string source, bool allowUnsafe = false)
    {
        _allowUnsafe = allowUnsafe;
        TestCode = source;
        ReferenceAssemblies = new ReferenceAssemblies("net10.0");
        TestState.AdditionalReferences.AddRange(GeneratorHarness.References);
        TestBehaviors = TestBehaviors.SkipGeneratedSourcesCheck;
    }

    protected override CompilationOptions CreateCompilationOptions() =>
        ((CSharpCompilationOptions)base.CreateCompilationOptions())
            .WithAllowUnsafe(_allowUnsafe)
            .WithNullableContextOptions(NullableContextOptions.Enable);

    protected override ParseOptions CreateParseOptions() =>
        ((CSharpParseOptions)base.CreateParseOptions()).WithLanguageVersion(LanguageVersion.Latest);
}

/// <summary>Direct runs of the generator, for message text, generated text and incrementality.</summary>
internal static class GeneratorHarness
{
    public static ImmutableArray<MetadataReference> References { get; } =
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator)
            .Where(path => Path.GetFileName(path) is var name && (name.StartsWith("System.", StringComparison.Ordinal)
                || name is "System.dll" or "mscorlib.dll" or "netstandard.dll" or "NativeReload.dll"
                || name.StartsWith("Microsoft.Extensions.Logging.Abstractions", StringComparison.Ordinal)
                || name.StartsWith("CommunityToolkit.HighPerformance", StringComparison.Ordinal)))
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
            .ToImmutableArray();

    public const string Usings = """
        using System;
        using System.Runtime.InteropServices;
        using NativeReload.Binding;

        """;

    public static CSharpCompilation Compile(string source, bool allowUnsafe = false) =>
        CSharpCompilation.Create(
            "UserProject",
            [CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest), path: "User.cs")],
            References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: allowUnsafe, nullableContextOptions: NullableContextOptions.Enable));

    /// <summary>Runs the generator on <paramref name="source"/>: its diagnostics, its sources, and the compiler's diagnostics afterwards.</summary>
    public static (ImmutableArray<Diagnostic> Generator, string Generated, ImmutableArray<Diagnostic> Compiler) Run(string source, bool allowUnsafe = false)
    {
        CSharpCompilation compilation = Compile(Usings + source, allowUnsafe);
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new NativeExportsGenerator());
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out ImmutableArray<Diagnostic> diagnostics);
        string generated = string.Join("\n", driver.GetRunResult().GeneratedTrees.Select(t => t.ToString()));
        ImmutableArray<Diagnostic> compiler = output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToImmutableArray();
        return (diagnostics, generated, compiler);
    }
}
