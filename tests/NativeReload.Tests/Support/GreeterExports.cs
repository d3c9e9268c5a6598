using NativeReload.Calling;
using NativeReload.Loading;

namespace NativeReload.Tests.Support;

/// <summary>The greeter fixtures' exports, resolved once per generation.</summary>
internal sealed unsafe class GreeterExports
{
    private readonly delegate* unmanaged[Cdecl]<byte*> _getMessage;
    private readonly delegate* unmanaged[Cdecl]<int, int, int> _add;
    private readonly delegate* unmanaged[Cdecl]<int> _getVersion;

    private GreeterExports(ExportResolver exports)
    {
        _getMessage = (delegate* unmanaged[Cdecl]<byte*>)exports.Require("get_message");
        _add = (delegate* unmanaged[Cdecl]<int, int, int>)exports.Optional("add");
        _getVersion = (delegate* unmanaged[Cdecl]<int>)exports.Optional("get_version");
    }

    public static GreeterExports Bind(ExportResolver exports) => new(exports);

    public string GetMessage() => NativeUtf8.Decode(_getMessage());

    public int Add(int a, int b) => _add(a, b);

    public int Version => _getVersion is null ? 0 : _getVersion();
}
