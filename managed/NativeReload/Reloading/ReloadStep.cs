namespace NativeReload.Reloading;

/// <summary>
/// The steps of a reload where the fault-injection tests make the host throw or stall (see
/// <see cref="ReloadOptions.FaultInjection"/>): every one must leave a serving generation behind.
/// </summary>
internal enum ReloadStep
{
    /// <summary>Before the changed file is read and checked.</summary>
    Read,

    /// <summary>Before the shadow copy is written, loaded and bound.</summary>
    Load,

    /// <summary>Before the old generation's <c>nr_unload</c> (the door to new calls is closed).</summary>
    Unload,

    /// <summary>Before the state block is grown for the new generation.</summary>
    StateGrowth,

    /// <summary>Before the new generation's <c>nr_load</c>.</summary>
    LoadHook,

    /// <summary>Before the old generation's <c>nr_load(NR_ROLLBACK)</c>.</summary>
    Rollback,

    /// <summary>Before the old generation is retired after a swap.</summary>
    Retire,
}
