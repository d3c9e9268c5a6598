namespace NativeReload.Reloading;

/// <summary>Settings of a <see cref="ReloadableLibrary{TExports}"/>; the shared ones are in <see cref="ReloadOptions"/>.</summary>
public sealed class ReloadableLibraryOptions : ReloadOptions
{
    /// <summary>When a new generation replaces the current one. Default: <see cref="ApplyMode.Immediately"/>.</summary>
    public ApplyMode ApplyMode { get; set; } = ApplyMode.Immediately;

    /// <summary>How long retiring a generation waits for calls still inside it before it gives up and keeps it loaded. Default 10 s.</summary>
    public TimeSpan RetireTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
