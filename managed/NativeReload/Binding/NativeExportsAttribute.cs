using System.Runtime.InteropServices;

namespace NativeReload.Binding;

/// <summary>
/// Marks a <c>partial class</c> whose <c>partial</c> methods without a body are exports of a native library. The
/// NativeReload source generator writes their bodies, the export table, <c>Bind(ExportResolver)</c> and
/// <c>Load(path, options, logger)</c> returning a <see cref="Reloading.ReloadableLibrary{TExports}"/> of the class.
/// </summary>
/// <remarks>See docs/bindings.md for the supported signatures and the diagnostics (NR1001...).</remarks>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class NativeExportsAttribute : Attribute
{
    /// <summary>Calling convention of every export unless <see cref="ExportAttribute.CallingConvention"/> says otherwise (default: cdecl).</summary>
    public CallingConvention CallingConvention { get; set; } = CallingConvention.Cdecl;
}
