using System.Runtime.InteropServices;

namespace NativeReload.Loading;

/// <summary>
/// Resolves a generation's exports once, when the generation is loaded, so calls never look a symbol up.
/// Missing required exports are collected rather than thrown one by one, so the failure names all of them.
/// </summary>
public sealed class ExportResolver
{
    private readonly nint _handle;
    private readonly List<string> _missing = [];

    internal ExportResolver(nint handle, string filePath, long generation)
    {
        _handle = handle;
        FilePath = filePath;
        Generation = generation;
    }

    /// <summary>The library file being loaded (not the shadow copy).</summary>
    public string FilePath { get; }

    /// <summary>The number the generation will have if it is accepted.</summary>
    public long Generation { get; }

    /// <summary>Names of required exports that were not found so far.</summary>
    public IReadOnlyList<string> MissingExports => _missing;

    /// <summary>
    /// Address of an export the host cannot work without. When it is missing, the address is zero and the
    /// generation is refused after the bind callback returns, with a reason that names every missing export.
    /// </summary>
    /// <param name="name">The exported symbol name, exactly as the linker wrote it (C names, no decoration).</param>
    /// <remarks>
    /// <para><b>Safety:</b> the address is valid only while the generation it came from is alive: inside a
    /// <see cref="Calling.GenerationScope{TExports}"/> or between two safe points. Cast it only to the export's
    /// real signature and calling convention.</para>
    /// </remarks>
    public nint Require(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (NativeLibrary.TryGetExport(_handle, name, out nint address))
        {
            return address;
        }

        _missing.Add(name);
        return 0;
    }

    /// <summary>Address of an export the library may leave out, or zero when it is absent.</summary>
    /// <param name="name">The exported symbol name.</param>
    /// <remarks><b>Safety:</b> as for <see cref="Require"/>.</remarks>
    public nint Optional(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return NativeLibrary.TryGetExport(_handle, name, out nint address) ? address : 0;
    }
}
