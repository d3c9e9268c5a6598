using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using NativeReload.Calling;
using NativeReload.Reloading;

namespace NativeReload.Benchmarks;

/// <summary>
/// The cost of one call to the same native function (<c>int add(int,int)</c>, and <c>get_message</c> + UTF-8 decode)
/// through each way a host can call it. Every row calls build/lib/libgreeter.so (the NativeReload rows call its private
/// shadow copy, the same bytes). Baseline of each category: the raw cached <c>delegate* unmanaged[Cdecl]</c>.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public unsafe class CallBenchmarks
{
    public const string AddCategory = "add";
    public const string MessageCategory = "get_message";

    private nint _handle;
    private delegate* unmanaged[Cdecl]<int, int, int> _add;
    private delegate* unmanaged[Cdecl]<byte*> _getMessage;
    private AddFunction _addDelegate = null!;
    private GetMessageFunction _getMessageDelegate = null!;
    private ReloadableLibrary<GreeterTable> _library = null!;
    private NativeReload.Calling.CallerSlot _caller = null!;
    private int _a = 40;
    private int _b = 2;

    [GlobalSetup]
    public void Setup()
    {
        string path = Repo.Sample;
        GreeterImports.BindTo(path);
        _handle = NativeLibrary.Load(path);
        _add = (delegate* unmanaged[Cdecl]<int, int, int>)NativeLibrary.GetExport(_handle, "add");
        _getMessage = (delegate* unmanaged[Cdecl]<byte*>)NativeLibrary.GetExport(_handle, "get_message");
        _addDelegate = Marshal.GetDelegateForFunctionPointer<AddFunction>((nint)_add);
        _getMessageDelegate = Marshal.GetDelegateForFunctionPointer<GetMessageFunction>((nint)_getMessage);
        _library = new ReloadableLibrary<GreeterTable>(
            path,
            GreeterTable.Bind,
            new ReloadableLibraryOptions { ApplyMode = ApplyMode.AtSafePoint, WatchForChanges = false });

        _caller = NativeReload.Calling.CallerSlot.ForCurrentThread(); // BenchmarkDotNet runs setup and benchmark on one thread

        // Every row must answer the same, or the comparison is meaningless.
        int expected = _add(_a, _b);
        if (Add_LibraryImport() != expected || Add_SafePoint() != expected || Add_SafePoint_CurrentOnly() != expected
            || Add_Concurrent() != expected || Add_Concurrent_CallerSlot() != expected || Add_GetExportPerCall() != expected || Add_Delegate() != expected)
        {
            throw new InvalidOperationException("the call paths disagree on add()");
        }

        string message = Message_RawPointer();
        if (message != "Hello from C!" || Message_LibraryImport() != message || Message_SafePoint() != message
            || Message_Concurrent() != message || Message_GetExportPerCall() != message || Message_Delegate() != message)
        {
            throw new InvalidOperationException("the call paths disagree on get_message()");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _library.Dispose();
        NativeLibrary.Free(_handle);
    }

    // ---- int add(int, int) -----------------------------------------------------------------------------------

    [Benchmark(Baseline = true, Description = "raw delegate* unmanaged (cached)")]
    [BenchmarkCategory(AddCategory)]
    public int Add_RawPointer() => _add(_a, _b);

    [Benchmark(Description = "[LibraryImport] static P/Invoke")]
    [BenchmarkCategory(AddCategory)]
    public int Add_LibraryImport() => GreeterImports.Add(_a, _b);

    /// <summary>The safe-point model, strictest form: one safe point per call (ApplyPendingReload, then Current).</summary>
    [Benchmark(Description = "safe point: ApplyPendingReload() + Current.Exports.Add")]
    [BenchmarkCategory(AddCategory)]
    public int Add_SafePoint()
    {
        _library.ApplyPendingReload();
        return _library.Current.Exports.Add(_a, _b);
    }

    /// <summary>Calls per frame in the frame-shaped benchmarks.</summary>
    public const int Frame = 64;

    /// <summary>
    /// The safe-point model as a loop host uses it (the definition): one safe point per frame, then every call
    /// of the frame through the export table cached at the safe point. Compare with <see cref="Add_RawPointer_Frame"/>.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Frame, Description = "safe point: frame of 64 calls via the table cached at ApplyPendingReload()")]
    [BenchmarkCategory(AddCategory)]
    public int Add_SafePoint_Frame()
    {
        _library.ApplyPendingReload();
        GreeterTable exports = _library.Current.Exports;
        int s = 0;
        for (int i = 0; i < Frame; i++)
        {
            s += exports.Add(_a, i);
        }

        return s;
    }

    /// <summary>The raw pointer in the same frame-shaped loop: the baseline of <see cref="Add_SafePoint_Frame"/>.</summary>
    [Benchmark(OperationsPerInvoke = Frame, Description = "raw delegate* unmanaged, frame of 64 calls")]
    [BenchmarkCategory(AddCategory)]
    public int Add_RawPointer_Frame()
    {
        delegate* unmanaged[Cdecl]<int, int, int> add = _add;
        int s = 0;
        for (int i = 0; i < Frame; i++)
        {
            s += add(_a, i);
        }

        return s;
    }

    /// <summary>The safe-point model between safe points (a frame that makes many calls): Current, then call.</summary>
    [Benchmark(Description = "safe point: Current.Exports.Add (between safe points)")]
    [BenchmarkCategory(AddCategory)]
    public int Add_SafePoint_CurrentOnly() => _library.Current.Exports.Add(_a, _b);

    [Benchmark(Description = "concurrent: using Enter(); Exports.Add")]
    [BenchmarkCategory(AddCategory)]
    public int Add_Concurrent()
    {
        using var scope = _library.Enter();
        return scope.Exports.Add(_a, _b);
    }

    /// <summary>The concurrent model with the thread's slot fetched once (no thread-local lookup per call).</summary>
    [Benchmark(Description = "concurrent: using Enter(callerSlot); Exports.Add")]
    [BenchmarkCategory(AddCategory)]
    public int Add_Concurrent_CallerSlot()
    {
        using var scope = _library.Enter(_caller);
        return scope.Exports.Add(_a, _b);
    }

    [Benchmark(Description = "seed: NativeLibrary.GetExport per call")]
    [BenchmarkCategory(AddCategory)]
    public int Add_GetExportPerCall() =>
        ((delegate* unmanaged[Cdecl]<int, int, int>)NativeLibrary.GetExport(_handle, "add"))(_a, _b);

    [Benchmark(Description = "Marshal.GetDelegateForFunctionPointer (cached)")]
    [BenchmarkCategory(AddCategory)]
    public int Add_Delegate() => _addDelegate(_a, _b);

    // ---- get_message() + decode (StringPool: an unchanged message allocates nothing) -------------------------

    [Benchmark(Baseline = true, Description = "raw delegate* unmanaged (cached)")]
    [BenchmarkCategory(MessageCategory)]
    public string Message_RawPointer() => NativeUtf8.Decode(_getMessage());

    [Benchmark(Description = "[LibraryImport] static P/Invoke")]
    [BenchmarkCategory(MessageCategory)]
    public string Message_LibraryImport() => NativeUtf8.Decode(GreeterImports.GetMessage());

    [Benchmark(Description = "safe point: ApplyPendingReload() + Current.Exports.GetMessage")]
    [BenchmarkCategory(MessageCategory)]
    public string Message_SafePoint()
    {
        _library.ApplyPendingReload();
        return NativeUtf8.Decode(_library.Current.Exports.GetMessage());
    }

    [Benchmark(Description = "concurrent: using Enter(); Exports.GetMessage")]
    [BenchmarkCategory(MessageCategory)]
    public string Message_Concurrent()
    {
        using var scope = _library.Enter();
        return NativeUtf8.Decode(scope.Exports.GetMessage());
    }

    [Benchmark(Description = "seed: NativeLibrary.GetExport per call")]
    [BenchmarkCategory(MessageCategory)]
    public string Message_GetExportPerCall() =>
        NativeUtf8.Decode(((delegate* unmanaged[Cdecl]<byte*>)NativeLibrary.GetExport(_handle, "get_message"))());

    [Benchmark(Description = "Marshal.GetDelegateForFunctionPointer (cached)")]
    [BenchmarkCategory(MessageCategory)]
    public string Message_Delegate() => NativeUtf8.Decode((byte*)_getMessageDelegate());
}
