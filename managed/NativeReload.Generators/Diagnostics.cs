using Microsoft.CodeAnalysis;

namespace NativeReload.Generators;

/// <summary>Every diagnostic the generator reports; each message says what to write instead.</summary>
internal static class Diagnostics
{
    private const string Category = "NativeReload.Binding";
    private const string HelpLink = "https://github.com/nativereload/nativereload/blob/main/docs/bindings.md#diagnostics";

    public static readonly DiagnosticDescriptor InvalidExportsType = Error(
        "NR1001",
        "[NativeExports] type has the wrong shape",
        "'{0}' cannot hold native exports: {1}");

    public static readonly DiagnosticDescriptor StringWithoutEncoding = Error(
        "NR1002",
        "string parameter without a stated encoding",
        "Parameter '{0}' of '{1}' is a string with no stated encoding: add [Utf8] to pass it as a NUL-terminated UTF-8 const char*, or take ReadOnlySpan<byte> and pass the bytes yourself");

    public static readonly DiagnosticDescriptor BoolWithoutSize = Error(
        "NR1003",
        "bool without a stated size",
        "{0} of '{1}' is a bool with no stated size: add {2}(UnmanagedType.U1)] for C bool/_Bool (1 byte) or {2}(UnmanagedType.Bool)] for a 4-byte int/BOOL, or use byte/int");

    public static readonly DiagnosticDescriptor UnsupportedType = Error(
        "NR1004",
        "type cannot cross the C ABI",
        "{0} of '{1}' has type '{2}', which cannot cross the C ABI: {3}");

    public static readonly DiagnosticDescriptor ExportNotPartial = Error(
        "NR1005",
        "[Export] on a method the generator cannot implement",
        "'{0}' has [Export] but is not a partial method without a body: declare it as 'public partial ... {0}(...);' and let the generator write the body");

    public static readonly DiagnosticDescriptor UnsupportedMethod = Error(
        "NR1006",
        "method cannot be an export",
        "'{0}' cannot be an export: {1}");

    public static readonly DiagnosticDescriptor TooManyArguments = Error(
        "NR1007",
        "too many arguments",
        "'{0}' needs {1} C arguments of which {2} are pinned spans or strings: at most 8 arguments and 3 spans/strings are supported; pass a pointer to a struct (a Span<T> of length 1) instead");

    public static readonly DiagnosticDescriptor InvalidAttributeValue = Error(
        "NR1008",
        "attribute value not supported",
        "{0}");

    private static DiagnosticDescriptor Error(string id, string title, string message) =>
        new(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: HelpLink);
}
