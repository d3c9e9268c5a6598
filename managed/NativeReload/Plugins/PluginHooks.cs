using NativeReload.Loading;

namespace NativeReload.Plugins;

/// <summary>
/// The optional contract exports of one generation (<c>nr_get_plugin_info</c>, <c>nr_load</c>, <c>nr_unload</c>),
/// resolved once when the generation is loaded. A library without any of them has no hooks (null).
/// </summary>
internal sealed unsafe class PluginHooks
{
    private readonly delegate* unmanaged[Cdecl]<NativeContract.HostState*, int> _load;
    private readonly delegate* unmanaged[Cdecl]<NativeContract.HostState*, int> _unload;

    private PluginHooks(NativeContract.PluginInfo? info, nint load, nint unload)
    {
        Info = info;
        _load = (delegate* unmanaged[Cdecl]<NativeContract.HostState*, int>)load;
        _unload = (delegate* unmanaged[Cdecl]<NativeContract.HostState*, int>)unload;
    }

    /// <summary>What <c>nr_get_plugin_info</c> returned, copied; null when the library does not export it.</summary>
    public NativeContract.PluginInfo? Info { get; }

    /// <summary>Bytes of state the library asked for.</summary>
    public ulong StateSize => Info?.StateSize ?? 0;

    /// <summary>The library's state layout version (0: none declared).</summary>
    public uint StateLayout => Info?.StateLayout ?? 0;

    public bool HasLoad => _load is not null;

    /// <summary>Resolves the contract exports; null when the library implements none of them.</summary>
    public static PluginHooks? Resolve(ExportResolver exports)
    {
        nint infoExport = exports.Optional(NativeContract.GetPluginInfoExport);
        nint load = exports.Optional(NativeContract.LoadExport);
        nint unload = exports.Optional(NativeContract.UnloadExport);
        if (infoExport == 0 && load == 0 && unload == 0)
        {
            return null;
        }

        NativeContract.PluginInfo? info = null;
        if (infoExport != 0)
        {
            var get = (delegate* unmanaged[Cdecl]<NativeContract.PluginInfo*>)infoExport;
            NativeContract.PluginInfo* pointer = get();
            info = pointer is null ? null : *pointer; // copied: the library's static storage goes away with it
        }

        return new PluginHooks(info, load, unload);
    }

    /// <summary>
    /// Checks the versions the library reports against what the host speaks; returns the reason for a refusal, or null.
    /// </summary>
    public string? CheckVersions(uint? expectedApiVersion)
    {
        if (Info is not { } info)
        {
            return null;
        }

        if (info.AbiVersion != NativeContract.AbiVersion)
        {
            return $"ABI version mismatch: the library was built against nativereload.h ABI {info.AbiVersion}, this host speaks ABI {NativeContract.AbiVersion}";
        }

        if (expectedApiVersion is { } api && info.ApiVersion != api)
        {
            return $"API version mismatch: the library implements API {info.ApiVersion}, this host expects API {api}";
        }

        return null;
    }

    /// <summary>Calls <c>nr_load</c> (0 when the library has none).</summary>
    public int Load(ref NativeContract.HostState state)
    {
        if (_load is null)
        {
            return 0;
        }

        fixed (NativeContract.HostState* pointer = &state)
        {
            return _load(pointer);
        }
    }

    /// <summary>Calls <c>nr_unload</c> (0 when the library has none).</summary>
    public int Unload(ref NativeContract.HostState state)
    {
        if (_unload is null)
        {
            return 0;
        }

        fixed (NativeContract.HostState* pointer = &state)
        {
            return _unload(pointer);
        }
    }
}
