using System.Runtime.InteropServices;

namespace NativeReload.Loading;

/// <summary>The dependency handles <see cref="DependencyPreloader"/> took for one generation; freed after the generation's own handle.</summary>
internal sealed class PreloadedDependencies
{
    private readonly List<(string Name, nint Handle)> _held;
    private readonly string? _copies;
    private bool _freed;

    /// <param name="held">The handles, in load order.</param>
    /// <param name="copies">The folder of the dependency copies (Windows), deleted once freed; null when loaded in place.</param>
    public PreloadedDependencies(List<(string Name, nint Handle)> held, string? copies = null)
    {
        _held = held;
        _copies = copies;
    }

    /// <summary>Nothing held.</summary>
    public static PreloadedDependencies None { get; } = new([]);

    /// <summary>The names of the dependencies held (for diagnostics and tests).</summary>
    public IEnumerable<string> Names => _held.Select(h => h.Name);

    /// <summary>Frees the handles in reverse load order. Idempotent.</summary>
    public void Free()
    {
        if (_freed)
        {
            return;
        }

        _freed = true;
        for (int i = _held.Count - 1; i >= 0; i--)
        {
            NativeLibrary.Free(_held[i].Handle);
            DependencyPreloader.Release(_held[i].Name);
        }

        if (_copies is not null)
        {
            try
            {
                Directory.Delete(_copies, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Still loaded (another generation's import holds it): the shadow directory's removal takes it.
            }
        }
    }
}
