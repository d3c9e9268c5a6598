namespace NativeReload.Reloading;

/// <summary>When a validated new generation replaces the current one.</summary>
public enum ApplyMode
{
    /// <summary>
    /// As soon as it is validated, from the background reload thread. For multi-threaded hosts: call through
    /// <see cref="ReloadableLibrary{TExports}.Enter()"/>; the old generation is freed after its last call returns.
    /// </summary>
    Immediately,

    /// <summary>
    /// Only when the host calls <see cref="ReloadableLibrary{TExports}.ApplyPendingReload"/> (the top of a frame in a
    /// game loop). Between two safe points <see cref="ReloadableLibrary{TExports}.Current"/> does not change, so a
    /// call is one indirect call through a cached pointer.
    /// </summary>
    AtSafePoint,
}
