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

        context.RegisterSourceOutput(models, static (output, model) =>
        {
            foreach (DiagnosticInfo diagnostic in model.Diagnostics)
            {
                output.ReportDiagnostic(diagnostic.ToDiagnostic());
            }

            if (model.Generate)
            {
                output.AddSource(model.HintName, Emitter.Emit(model));
            }
        });
    }
}
