using NativeReload.Calling;
using NativeReload.Loading;

namespace NativeReload.Tests.Support;

/// <summary>The counter samples' exports (native/counter, native/rust-counter).</summary>
internal sealed unsafe class CounterExports
{
    private readonly delegate* unmanaged[Cdecl]<byte*> _getMessage;
    private readonly delegate* unmanaged[Cdecl]<long> _getCount;
    private readonly delegate* unmanaged[Cdecl]<int> _getVersion;

    private CounterExports(ExportResolver exports)
    {
        _getMessage = (delegate* unmanaged[Cdecl]<byte*>)exports.Require("get_message");
        _getCount = (delegate* unmanaged[Cdecl]<long>)exports.Require("get_count");
        _getVersion = (delegate* unmanaged[Cdecl]<int>)exports.Require("get_version");
    }

    public static CounterExports Bind(ExportResolver exports) => new(exports);

    /// <summary>Counts one more and returns the message (formatted into the host's state block).</summary>
    public string GetMessage() => NativeUtf8.Decode(_getMessage());

    public long Count => _getCount();

    public int Version => _getVersion();
}
