namespace NativeReload.Binding;

/// <summary>
/// Passes a <see cref="string"/> parameter as a NUL-terminated UTF-8 <c>const char*</c>, valid only during the call
/// (null is passed as NULL). Without it a <c>string</c> parameter is an error (NR1002): the encoding must be stated.
/// </summary>
[AttributeUsage(AttributeTargets.Parameter, Inherited = false)]
public sealed class Utf8Attribute : Attribute
{
}
