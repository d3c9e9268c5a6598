using System.Runtime.InteropServices;

namespace NativeReload.Loading;

/// <summary>The dependency handles <see cref="DependencyPreloader"/> took for one generation; freed after the generation's own handle.</summary>
internal sealed class PreloadedDependencies
{
    private readonly List<(string Name, nint Handle)> _held;
    private bool _freed;

    public PreloadedDependencies(List<(string Name, nint Handle)> held) => _held = held;

    /// <summary>Nothing held.</summary>
    public static PreloadedDependencies None { get; } = new([]);

    /// <summary>The names of the dependencies held (for diagnostics and tests).</summary>
    public IEnumerable<string> Names => _held.Select(h => h.Name);

    /// <summary>Frees the handles in reverse load order. Idempotent.</summary>
    public void Free()
    {
        if (_freed || _held.Count == 0)
        {
            return;
        }

        _freed = true;
        for (int i = _held.Count - 1; i >= 0; i--)
        {
            NativeLibrary.Free(_held[i].Handle);
            DependencyPreloader.Release(_held[i].Name);
        }
    }
}
