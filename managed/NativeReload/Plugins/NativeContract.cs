using System.Runtime.InteropServices;

namespace NativeReload.Plugins;

/// <summary>
/// Managed mirrors of <c>native/include/nativereload.h</c>. Sequential layout follows the C rules on every
/// platform, so these match the header on 32- and 64-bit targets alike.
/// </summary>
internal static class NativeContract
{
    /// <summary><c>NR_ABI_VERSION</c>: the contract version this host speaks.</summary>
    public const uint AbiVersion = 1;

    public const string GetPluginInfoExport = "nr_get_plugin_info";
    public const string LoadExport = "nr_load";
    public const string UnloadExport = "nr_unload";

    public const int FirstLoad = 0;
    public const int Reload = 1;
    public const int Rollback = 2;

    /// <summary><c>nr_plugin_info</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PluginInfo
    {
        public uint AbiVersion;
        public uint ApiVersion;
        public uint StateLayout;
        public uint Reserved;
        public ulong StateSize;
    }

    /// <summary><c>nr_host_state</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct HostState
    {
        public void* Data;
        public ulong Size;
        public uint Layout;
        public int LoadKind;
        public long Generation;
    }
}
