using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace NativeReload.Generators;

/// <summary>Turns a [NativeExports] class symbol into a <see cref="ClassModel"/>: what to generate and what to report.</summary>
internal static class Parser
{
    public const string NativeExportsAttribute = "NativeReload.Binding.NativeExportsAttribute";
    private const string ExportAttribute = "NativeReload.Binding.ExportAttribute";
    private const string Utf8Attribute = "NativeReload.Binding.Utf8Attribute";
    private const string SpanLengthAttribute = "NativeReload.Binding.SpanLengthAttribute";
    private const string MarshalAsAttribute = "System.Runtime.InteropServices.MarshalAsAttribute";
    private const int MaxArguments = 8;
    private const int MaxPinned = 3;

    // System.Runtime.InteropServices.CallingConvention values.
    private static readonly Dictionary<int, string> Conventions = new()
    {
        [1] = "Winapi",
        [2] = "Cdecl",
        [3] = "StdCall",
        [4] = "ThisCall",
        [5] = "FastCall",
    };

    private static readonly SymbolDisplayFormat TypeFormat = SymbolDisplayFormat.FullyQualifiedFormat
        .AddMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

    public static ClassModel Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var diagnostics = new List<DiagnosticInfo>();
        string? ns = type.ContainingNamespace.IsGlobalNamespace ? null : type.ContainingNamespace.ToDisplayString();
        string hintName = (ns is null ? "" : ns + ".") + type.MetadataName + ".NativeExports.g.cs";

        string? shapeProblem = ShapeProblem(type, context.TargetNode);
        if (shapeProblem is not null)
        {
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.InvalidExportsType, type.Locations.FirstOrDefault(), type.Name, shapeProblem));
            return new ClassModel(ns, type.Name, hintName, default, EquatableArray.From(diagnostics), Generate: false);
        }

        string defaultConvention = "Cdecl";
        AttributeData classAttribute = context.Attributes[0];
        foreach (KeyValuePair<string, TypedConstant> named in classAttribute.NamedArguments)
        {
            if (named.Key == "CallingConvention" && named.Value.Value is int value)
            {
                if (Conventions.TryGetValue(value, out string? convention))
                {
                    defaultConvention = convention;
                }
                else
                {
                    diagnostics.Add(DiagnosticInfo.Create(Diagnostics.InvalidAttributeValue, type.Locations.FirstOrDefault(),
                        $"CallingConvention value {value} on '{type.Name}' is not supported: use Cdecl, StdCall, ThisCall, FastCall or Winapi"));
                }
            }
        }

        var methods = new List<MethodModel>();
        foreach (ISymbol member in type.GetMembers())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (member is not IMethodSymbol { MethodKind: MethodKind.Ordinary } method)
            {
                continue;
            }

            AttributeData? export = method.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == ExportAttribute);
            bool isExportDeclaration = method.IsPartialDefinition && method.PartialImplementationPart is null;
            if (!isExportDeclaration)
            {
                // A user's own helper method; [Export] on it (or on a partial method that already has a body) cannot work.
                if (export is not null)
                {
                    diagnostics.Add(DiagnosticInfo.Create(Diagnostics.ExportNotPartial, method.Locations.FirstOrDefault(), method.Name));
                }

                continue;
            }

            methods.Add(ParseMethod(method, export, defaultConvention, methods.Count, diagnostics));
        }

        return new ClassModel(ns, type.Name, hintName, EquatableArray.From(methods), EquatableArray.From(diagnostics), Generate: true);
    }

    private static string? ShapeProblem(INamedTypeSymbol type, SyntaxNode node)
    {
        string fix = $"declare it as 'public sealed partial class {type.Name}' directly in a namespace";
        if (node is not ClassDeclarationSyntax classSyntax)
        {
            return $"it must be a partial class (records and structs are not supported); {fix}";
        }

        if (!classSyntax.Modifiers.Any(SyntaxKind.PartialKeyword))
        {
            return $"it is not partial, so the generator cannot add the export table; {fix}";
        }

        if (type.ContainingType is not null)
        {
            return $"it is nested in '{type.ContainingType.Name}'; {fix}";
        }

        if (type.IsGenericType)
        {
            return $"it is generic; {fix}";
        }

        if (type.IsStatic || type.IsAbstract)
        {
            return $"it is {(type.IsStatic ? "static" : "abstract")}, but each generation needs an instance; {fix}";
        }

        return null;
    }

    private static MethodModel ParseMethod(IMethodSymbol method, AttributeData? export, string defaultConvention, int index, List<DiagnosticInfo> diagnostics)
    {
        Location? location = method.Locations.FirstOrDefault();
        int reported = diagnostics.Count;
        string exportName = method.Name;
        bool optional = false;
        string convention = defaultConvention;
        if (export is not null)
        {
            if (export.ConstructorArguments.Length == 1 && export.ConstructorArguments[0].Value is string name)
            {
                if (name.Length == 0)
                {
                    diagnostics.Add(DiagnosticInfo.Create(Diagnostics.InvalidAttributeValue, location,
                        $"[Export(\"\")] on '{method.Name}' names no symbol: write the C name, e.g. [Export(\"get_message\")], or leave the name out to use '{method.Name}'"));
                }
                else
                {
                    exportName = name;
                }
            }

            foreach (KeyValuePair<string, TypedConstant> named in export.NamedArguments)
            {
                if (named.Key == "Optional" && named.Value.Value is bool isOptional)
                {
                    optional = isOptional;
                }
                else if (named.Key == "CallingConvention" && named.Value.Value is int value && value != 0)
                {
                    if (Conventions.TryGetValue(value, out string? c))
                    {
                        convention = c;
                    }
                    else
                    {
                        diagnostics.Add(DiagnosticInfo.Create(Diagnostics.InvalidAttributeValue, location,
                            $"CallingConvention value {value} on '{method.Name}' is not supported: use Cdecl, StdCall, ThisCall, FastCall or Winapi"));
                    }
                }
            }
        }

        if (method.IsGenericMethod)
        {
            // Its parameter types mean nothing until instantiated: one error, not one per parameter.
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.UnsupportedMethod, location, method.Name, "it is generic; a C export has one signature, so declare one method per signature"));
            return Stub(method, exportName, convention, diagnostics[reported].Descriptor.Id);
        }

        if (method.IsStatic)
        {
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.UnsupportedMethod, location, method.Name, "it is static; exports belong to a generation, so declare it as an instance method"));
        }

        if (method.ReturnsByRef || method.ReturnsByRefReadonly)
        {
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.UnsupportedMethod, location, method.Name, "it returns by reference; return the value, or nint for a pointer"));
        }

        var parameters = new List<ParameterModel>();
        int nativeArguments = 0;
        int pinned = 0;
        foreach (IParameterSymbol parameter in method.Parameters)
        {
            Location? parameterLocation = parameter.Locations.FirstOrDefault() ?? location;
            if (parameter.RefKind != RefKind.None || parameter.IsParams)
            {
                diagnostics.Add(DiagnosticInfo.Create(Diagnostics.UnsupportedMethod, parameterLocation, method.Name,
                    $"parameter '{parameter.Name}' is {(parameter.IsParams ? "params" : "ref/out/in")}; pass a Span<T> of length 1 for a value the C side writes, or the value itself"));
                continue;
            }

            ParameterModel? model = ParseParameter(method, parameter, parameterLocation, diagnostics);
            if (model is null)
            {
                continue;
            }

            parameters.Add(model);
            nativeArguments += model.Kind == ParameterKind.Span ? 2 : 1;
            pinned += model.Kind is ParameterKind.Span or ParameterKind.Utf8 ? 1 : 0;
        }

        if (nativeArguments > MaxArguments || pinned > MaxPinned)
        {
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.TooManyArguments, location, method.Name, nativeArguments.ToString(), pinned.ToString()));
        }

        (ReturnKind returnKind, string nativeReturn) = ParseReturn(method, location, diagnostics);
        if (diagnostics.Count > reported)
        {
            return Stub(method, exportName, convention, diagnostics[reported].Descriptor.Id);
        }

        return new MethodModel(
            method.Name,
            Modifiers(method),
            method.ReturnType.ToDisplayString(TypeFormat),
            returnKind,
            nativeReturn,
            exportName,
            optional,
            convention,
            EquatableArray.From(parameters),
            TypeParameters: "",
            Constraints: "",
            Error: null);
    }

    /// <summary>
    /// An export the generator cannot call still gets a body (that throws), declared exactly like the user's
    /// declaration, so the build shows the NR diagnostic alone rather than compiler errors about a missing part.
    /// </summary>
    private static MethodModel Stub(IMethodSymbol method, string exportName, string convention, string id)
    {
        MethodDeclarationSyntax? syntax = method.DeclaringSyntaxReferences.Select(r => r.GetSyntax()).OfType<MethodDeclarationSyntax>().FirstOrDefault();
        return new MethodModel(
            method.Name,
            Modifiers(method),
            (method.ReturnsByRefReadonly ? "ref readonly " : method.ReturnsByRef ? "ref " : "") + method.ReturnType.ToDisplayString(TypeFormat),
            ReturnKind.Value,
            "",
            exportName,
            Optional: false,
            convention,
            EquatableArray.From(method.Parameters.Select(p => new ParameterModel(
                Identifier(p.Name), RefPrefix(p) + p.Type.ToDisplayString(TypeFormat), ParameterKind.Value, "", ""))),
            syntax?.TypeParameterList?.ToString() ?? "",
            syntax is null ? "" : string.Join(" ", syntax.ConstraintClauses.Select(c => c.ToString())),
            $"'{method.Name}' has an unsupported signature ({id}, see the build errors and docs/bindings.md)");
    }

    private static string RefPrefix(IParameterSymbol parameter) =>
        (parameter.IsParams ? "params " : "") + parameter.RefKind switch
        {
            RefKind.Ref => "ref ",
            RefKind.Out => "out ",
            RefKind.In => "in ",
            RefKind.RefReadOnlyParameter => "ref readonly ",
            _ => "",
        };

    private static ParameterModel? ParseParameter(IMethodSymbol method, IParameterSymbol parameter, Location? location, List<DiagnosticInfo> diagnostics)
    {
        string name = Identifier(parameter.Name);
        string type = parameter.Type.ToDisplayString(TypeFormat);
        string what = $"Parameter '{parameter.Name}'";
        ImmutableArray<AttributeData> attributes = parameter.GetAttributes();

        if (parameter.Type.SpecialType == SpecialType.System_String)
        {
            if (attributes.Any(a => a.AttributeClass?.ToDisplayString() == Utf8Attribute))
            {
                return new ParameterModel(name, type, ParameterKind.Utf8, "nint", "");
            }

            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.StringWithoutEncoding, location, parameter.Name, method.Name));
            return null;
        }

        if (parameter.Type.SpecialType == SpecialType.System_Boolean)
        {
            string? size = BoolSize(attributes, what, method, location, diagnostics, "[MarshalAs");
            return size is null ? null : new ParameterModel(name, type, ParameterKind.Bool, size, "");
        }

        if (parameter.Type is INamedTypeSymbol { IsGenericType: true } generic && generic.TypeArguments.Length == 1
            && generic.ConstructedFrom.ToDisplayString() is "System.Span<T>" or "System.ReadOnlySpan<T>")
        {
            ITypeSymbol element = generic.TypeArguments[0];
            string? elementProblem = BlittableProblem(element, 0);
            if (elementProblem is not null)
            {
                diagnostics.Add(DiagnosticInfo.Create(Diagnostics.UnsupportedType, location, what, method.Name, type,
                    $"its elements must be blittable ({elementProblem}); use a span of byte, int, float, an enum or a struct of such fields"));
                return null;
            }

            string lengthType = "nuint";
            AttributeData? lengthAttribute = attributes.FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == SpanLengthAttribute);
            if (lengthAttribute is not null && lengthAttribute.ConstructorArguments.Length == 1 && lengthAttribute.ConstructorArguments[0].Value is ITypeSymbol lengthSymbol)
            {
                switch (lengthSymbol.SpecialType)
                {
                    case SpecialType.System_Int32: lengthType = "int"; break;
                    case SpecialType.System_UInt32: lengthType = "uint"; break;
                    case SpecialType.System_Int64: lengthType = "long"; break;
                    case SpecialType.System_UInt64: lengthType = "ulong"; break;
                    case SpecialType.System_IntPtr: lengthType = "nint"; break;
                    case SpecialType.System_UIntPtr: lengthType = "nuint"; break;
                    default:
                        diagnostics.Add(DiagnosticInfo.Create(Diagnostics.InvalidAttributeValue, location,
                            $"[SpanLength(typeof({lengthSymbol.ToDisplayString()}))] on '{parameter.Name}' of '{method.Name}' is not a C count type: use typeof(int), typeof(uint), typeof(long), typeof(ulong), typeof(nint) or typeof(nuint) (size_t, the default)"));
                        return null;
                }
            }

            return new ParameterModel(name, type, ParameterKind.Span, element.ToDisplayString(TypeFormat), lengthType);
        }

        string? problem = ValueProblem(parameter.Type);
        if (problem is not null)
        {
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.UnsupportedType, location, what, method.Name, type, problem));
            return null;
        }

        return new ParameterModel(name, type, ParameterKind.Value, type, "");
    }

    private static (ReturnKind Kind, string NativeType) ParseReturn(IMethodSymbol method, Location? location, List<DiagnosticInfo> diagnostics)
    {
        ITypeSymbol type = method.ReturnType;
        if (method.ReturnsVoid)
        {
            return (ReturnKind.Void, "");
        }

        if (type.SpecialType == SpecialType.System_String)
        {
            return (ReturnKind.Utf8String, "nint");
        }

        if (type.SpecialType == SpecialType.System_Boolean)
        {
            string? size = BoolSize(method.GetReturnTypeAttributes(), "The return value", method, location, diagnostics, "[return: MarshalAs");
            return (ReturnKind.Bool, size ?? "byte");
        }

        string? problem = type is INamedTypeSymbol { IsGenericType: true } g && g.ConstructedFrom.ToDisplayString() is "System.Span<T>" or "System.ReadOnlySpan<T>"
            ? "a C function cannot return a span; return nint (the pointer) and ask for the length separately, or fill a Span<T> parameter"
            : ValueProblem(type);
        if (problem is not null)
        {
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.UnsupportedType, location, "The return value", method.Name, type.ToDisplayString(TypeFormat), problem));
        }

        return (ReturnKind.Value, type.ToDisplayString(TypeFormat));
    }

    private static string? BoolSize(ImmutableArray<AttributeData> attributes, string what, IMethodSymbol method, Location? location, List<DiagnosticInfo> diagnostics, string attributeSyntax)
    {
        AttributeData? marshalAs = attributes.FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == MarshalAsAttribute);
        if (marshalAs is null || marshalAs.ConstructorArguments.Length != 1)
        {
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.BoolWithoutSize, location, what, method.Name, attributeSyntax));
            return null;
        }

        // System.Runtime.InteropServices.UnmanagedType: Bool = 2, I1 = 3, U1 = 4, I4 = 7, U4 = 8.
        object? value = marshalAs.ConstructorArguments[0].Value;
        switch (value is null ? -1 : System.Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture))
        {
            case 3: return "sbyte";
            case 4: return "byte";
            case 2:
            case 7: return "int";
            case 8: return "uint";
            default:
                diagnostics.Add(DiagnosticInfo.Create(Diagnostics.InvalidAttributeValue, location,
                    $"{what} of '{method.Name}' is a bool marshalled as UnmanagedType value {value}: use UnmanagedType.U1 or I1 (1 byte), or Bool, I4 or U4 (4 bytes)"));
                return null;
        }
    }

    /// <summary>Why <paramref name="type"/> cannot be passed by value across the C ABI, or null when it can.</summary>
    private static string? ValueProblem(ITypeSymbol type)
    {
        switch (type.SpecialType)
        {
            case SpecialType.System_Char:
                return "a C# char is a 2-byte UTF-16 unit; use byte for C char, ushort for char16_t";
            case SpecialType.System_Decimal:
                return "decimal has no C equivalent; use double or a struct";
            case SpecialType.System_Object:
                return "objects cannot be passed to C; use nint (e.g. a GCHandle) or a blittable struct";
        }

        if (type.TypeKind is TypeKind.Pointer or TypeKind.FunctionPointer)
        {
            return "pointers need unsafe code; declare the parameter as nint (or a Span<T> with its length)";
        }

        if (type.TypeKind == TypeKind.Array)
        {
            return "arrays are not passed by reference implicitly; take a ReadOnlySpan<T> or Span<T> (passed as pointer + count)";
        }

        if (type.IsReferenceType || type.TypeKind == TypeKind.Delegate)
        {
            return "reference types cannot cross the C ABI; use nint for handles and callbacks, or a blittable struct";
        }

        if (type is INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T })
        {
            return "Nullable<T> has no C layout; pass the value and a separate flag, or a Span<T> that may be empty";
        }

        string? blittable = BlittableProblem(type, 0);
        return blittable is null ? null : $"it is not blittable ({blittable}); use byte/int fields for flags and ushort for UTF-16 units";
    }

    /// <summary>Why <paramref name="type"/> does not have one fixed C layout, or null when it does.</summary>
    private static string? BlittableProblem(ITypeSymbol type, int depth)
    {
        switch (type.SpecialType)
        {
            case SpecialType.System_SByte:
            case SpecialType.System_Byte:
            case SpecialType.System_Int16:
            case SpecialType.System_UInt16:
            case SpecialType.System_Int32:
            case SpecialType.System_UInt32:
            case SpecialType.System_Int64:
            case SpecialType.System_UInt64:
            case SpecialType.System_Single:
            case SpecialType.System_Double:
            case SpecialType.System_IntPtr:
            case SpecialType.System_UIntPtr:
                return null;
            case SpecialType.System_Boolean:
                return "bool has no fixed size in C";
            case SpecialType.System_Char:
                return "char is UTF-16";
        }

        if (type.TypeKind == TypeKind.Enum)
        {
            return null;
        }

        if (type.TypeKind != TypeKind.Struct || type.IsRefLikeType || depth > 16 || type is INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T })
        {
            return $"'{type.ToDisplayString()}' is not a struct of numbers";
        }

        foreach (IFieldSymbol field in type.GetMembers().OfType<IFieldSymbol>())
        {
            if (field.IsStatic || field.IsConst)
            {
                continue;
            }

            if (field.IsFixedSizeBuffer)
            {
                continue;
            }

            string? inner = BlittableProblem(field.Type, depth + 1);
            if (inner is not null)
            {
                return $"field '{type.Name}.{field.Name}' of type '{field.Type.ToDisplayString()}': {inner}";
            }
        }

        return null;
    }

    private static string Modifiers(IMethodSymbol method)
    {
        foreach (SyntaxReference reference in method.DeclaringSyntaxReferences)
        {
            if (reference.GetSyntax() is MethodDeclarationSyntax syntax)
            {
                return string.Join(" ", syntax.Modifiers
                    .Where(m => m.Kind() is SyntaxKind.PublicKeyword or SyntaxKind.PrivateKeyword or SyntaxKind.ProtectedKeyword
                        or SyntaxKind.InternalKeyword or SyntaxKind.NewKeyword or SyntaxKind.UnsafeKeyword or SyntaxKind.StaticKeyword)
                    .Select(m => m.Text));
            }
        }

        return "";
    }

    private static string Identifier(string name) =>
        SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None || SyntaxFacts.GetContextualKeywordKind(name) != SyntaxKind.None && name is "scoped"
            ? "@" + name
            : name;
}
