using Microsoft.CodeAnalysis;

namespace NativeReload.Generators;

/// <summary>
/// Generates the export table, <c>Bind</c>, <c>Load</c> and the bodies of the partial methods of every
/// <c>[NativeExports]</c> class, calling through <c>NativeReload.Binding.NativeCall</c> so the user's project needs
/// no unsafe code.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class NativeExportsGenerator : IIncrementalGenerator
{
    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<ClassModel> models = context.SyntaxProvider.ForAttributeWithMetadataName(
            Parser.NativeExportsAttribute,
            static (node, _) => node is Microsoft.CodeAnalysis.CSharp.Syntax.TypeDeclarationSyntax,
            static (context, cancellationToken) => Parser.Parse(context, cancellationToken));

        // Whether the compilation allows unsafe code decides how calls are made (see Emitter.Emit); a bool, so it caches.
        IncrementalValueProvider<bool> allowUnsafe = context.CompilationProvider.Select(
            static (compilation, _) => compilation.Options is Microsoft.CodeAnalysis.CSharp.CSharpCompilationOptions { AllowUnsafe: true });

        context.RegisterSourceOutput(models.Combine(allowUnsafe), static (output, pair) =>
        {
            (ClassModel model, bool direct) = pair;
            foreach (DiagnosticInfo diagnostic in model.Diagnostics)
            {
                output.ReportDiagnostic(diagnostic.ToDiagnostic());
            }

            if (model.Generate)
            {
                output.AddSource(model.HintName, Emitter.Emit(model, direct));
            }
        });
    }
}
