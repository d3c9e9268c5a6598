using System.Runtime.InteropServices;

namespace NativeReload.Binding;

/// <summary>Details of one export in a <see cref="NativeExportsAttribute"/> class: its symbol name, whether it may be absent, its calling convention.</summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class ExportAttribute : Attribute
{
    /// <summary>The export has the method's name.</summary>
    public ExportAttribute()
    {
    }

    /// <summary>The export has the symbol name <paramref name="name"/> (e.g. <c>"get_message"</c>).</summary>
    /// <param name="name">The exported C symbol, exactly as the linker wrote it.</param>
    public ExportAttribute(string name) => Name = name;

    /// <summary>The exported C symbol; null means the method's name.</summary>
    public string? Name { get; }

    /// <summary>
    /// True when a generation may lack the export: it loads anyway, the generated <c>Is{Method}Available</c>
    /// property says whether it is there, and calling it when absent throws <see cref="EntryPointNotFoundException"/>
    /// naming the export. False (default): a generation without it is refused at load, naming it.
    /// </summary>
    public bool Optional { get; set; }

    /// <summary>This export's calling convention; unset (0) means the class's <see cref="NativeExportsAttribute.CallingConvention"/>.</summary>
    public CallingConvention CallingConvention { get; set; }
}
