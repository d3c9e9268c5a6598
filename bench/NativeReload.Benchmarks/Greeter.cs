using System.Runtime.InteropServices;
using NativeReload.Loading;

namespace NativeReload.Benchmarks;

/// <summary>The greeter's exports as a NativeReload export table: function pointers resolved once per generation.</summary>
internal sealed unsafe class GreeterTable
{
    public readonly delegate* unmanaged[Cdecl]<int, int, int> Add;
    public readonly delegate* unmanaged[Cdecl]<byte*> GetMessage;
    public readonly delegate* unmanaged[Cdecl]<int> GetVersion;

    private GreeterTable(ExportResolver exports)
    {
        Add = (delegate* unmanaged[Cdecl]<int, int, int>)exports.Require("add");
        GetMessage = (delegate* unmanaged[Cdecl]<byte*>)exports.Require("get_message");
        GetVersion = (delegate* unmanaged[Cdecl]<int>)exports.Require("get_version");
    }

    public static GreeterTable Bind(ExportResolver exports) => new(exports);
}

/// <summary>Static P/Invoke to the sample, bound to build/lib/libgreeter.so by a DllImport resolver.</summary>
internal static unsafe partial class GreeterImports
{
    public const string LibraryName = "nativereload_bench_greeter";
    private static int s_resolverSet;

    [LibraryImport(LibraryName, EntryPoint = "add")]
    [UnmanagedCallConv(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    public static partial int Add(int a, int b);

    /// <summary>Returns the library's own pointer: never declare it as string (the marshaller would free() it).</summary>
    [LibraryImport(LibraryName, EntryPoint = "get_message")]
    [UnmanagedCallConv(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    public static partial byte* GetMessage();

    /// <summary>Maps <see cref="LibraryName"/> to <paramref name="path"/> for this assembly (once per process).</summary>
    public static void BindTo(string path)
    {
        if (Interlocked.Exchange(ref s_resolverSet, 1) != 0)
        {
            return;
        }

        NativeLibrary.SetDllImportResolver(
            typeof(GreeterImports).Assembly,
            (name, _, _) => name == LibraryName ? NativeLibrary.Load(path) : 0);
    }
}

[UnmanagedFunctionPointer(CallingConvention.Cdecl)]
internal delegate int AddFunction(int a, int b);

[UnmanagedFunctionPointer(CallingConvention.Cdecl)]
internal delegate nint GetMessageFunction();
