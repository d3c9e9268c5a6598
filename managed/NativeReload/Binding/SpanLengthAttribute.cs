namespace NativeReload.Binding;

/// <summary>
/// The C type of the element count that follows a span's pointer: a <c>ReadOnlySpan&lt;T&gt;</c> or
/// <c>Span&lt;T&gt;</c> parameter is passed as two C arguments, <c>const T* data, size_t count</c>. Use this to say
/// the count is <c>int</c>, <c>uint</c>, <c>long</c>, <c>ulong</c>, <c>nint</c> or <c>nuint</c> (the default, <c>size_t</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Parameter, Inherited = false)]
public sealed class SpanLengthAttribute : Attribute
{
    /// <summary>The count is passed as <paramref name="type"/>, e.g. <c>typeof(int)</c>.</summary>
    /// <param name="type">One of int, uint, long, ulong, nint, nuint.</param>
    public SpanLengthAttribute(Type type) => Type = type;

    /// <summary>The C type of the count.</summary>
    public Type Type { get; }
}
