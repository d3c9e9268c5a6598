using System.Text;
using NativeReload.Calling;
using NativeReload.Loading;

namespace NativeReload.Tests.Support;

/// <summary>The state_probe fixtures' exports (native/fixtures/state_probe.c).</summary>
internal sealed unsafe class ProbeExports
{
    private readonly delegate* unmanaged[Cdecl]<byte*> _getMessage;
    private readonly delegate* unmanaged[Cdecl]<int, long> _slowTouch;
    private readonly delegate* unmanaged[Cdecl]<byte*, void> _setLog;

    private ProbeExports(ExportResolver exports)
    {
        _getMessage = (delegate* unmanaged[Cdecl]<byte*>)exports.Require("get_message");
        _slowTouch = (delegate* unmanaged[Cdecl]<int, long>)exports.Require("slow_touch");
        _setLog = (delegate* unmanaged[Cdecl]<byte*, void>)exports.Require("probe_set_log");
    }

    public static ProbeExports Bind(ExportResolver exports) => new(exports);

    public string GetMessage() => NativeUtf8.Decode(_getMessage());

    /// <summary>Stays inside the library for <paramref name="milliseconds"/>, then counts one in the state block.</summary>
    public long SlowTouch(int milliseconds) => _slowTouch(milliseconds);

    /// <summary>Stores <paramref name="path"/> in the state block: every nr_load/nr_unload appends a line to it from now on.</summary>
    public void SetLog(string path)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
        {
            _setLog(p);
        }
    }
}
