using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace NativeReload.Generators;

/// <summary>Where a diagnostic goes, without holding a syntax tree (which would defeat caching).</summary>
internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public static LocationInfo? From(Location? location) =>
        location is null || location.SourceTree is null ? null : new(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);

    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);
}

/// <summary>A diagnostic to report, as plain data.</summary>
internal sealed record DiagnosticInfo(DiagnosticDescriptor Descriptor, LocationInfo? Location, EquatableArray<string> Arguments)
{
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, Location? location, params string[] arguments) =>
        new(descriptor, LocationInfo.From(location), EquatableArray.From(arguments));

    public Diagnostic ToDiagnostic()
    {
        object[] args = new object[Arguments.Count];
        for (int i = 0; i < args.Length; i++)
        {
            args[i] = Arguments[i];
        }

        return Diagnostic.Create(Descriptor, Location?.ToLocation(), args);
    }
}

/// <summary>How a C# parameter becomes C arguments.</summary>
internal enum ParameterKind
{
    /// <summary>Passed as is: a number, nint, enum or blittable struct.</summary>
    Value,

    /// <summary>A bool passed as a C integer of the stated size (<see cref="ParameterModel.NativeType"/>).</summary>
    Bool,

    /// <summary>A span passed as a pinned pointer and an element count of <see cref="ParameterModel.LengthType"/>.</summary>
    Span,

    /// <summary>A string passed as a pinned NUL-terminated UTF-8 pointer.</summary>
    Utf8,
}

/// <summary>How a C result becomes the C# return value.</summary>
internal enum ReturnKind
{
    Void,
    Value,
    Bool,
    Utf8String,
}

/// <summary>One parameter of an export, as written and as passed.</summary>
/// <param name="Name">The identifier as it must appear in code (with @ when it is a keyword).</param>
/// <param name="Type">The declared type, fully qualified.</param>
/// <param name="NativeType">The C-side type for Value and Bool; the element type for Span.</param>
/// <param name="LengthType">The count's type for Span.</param>
internal sealed record ParameterModel(string Name, string Type, ParameterKind Kind, string NativeType, string LengthType);

/// <summary>One export: the partial method's declaration and how to call the symbol.</summary>
internal sealed record MethodModel(
    string Name,
    string Modifiers,
    string ReturnType,
    ReturnKind ReturnKind,
    string NativeReturnType,
    string ExportName,
    bool Optional,
    string Convention,
    EquatableArray<ParameterModel> Parameters,
    string TypeParameters,
    string Constraints,
    string? Error);

/// <summary>A [NativeExports] class and everything generated for it.</summary>
internal sealed record ClassModel(
    string? Namespace,
    string Name,
    string HintName,
    EquatableArray<MethodModel> Methods,
    EquatableArray<DiagnosticInfo> Diagnostics,
    bool Generate);
