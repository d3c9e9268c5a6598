using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NativeReload.Calling;
using NativeReload.Reloading;

namespace NativeReload.Benchmarks;

/// <summary>
/// The same call paths as <see cref="CallBenchmarks"/>, measured interleaved: every round runs a batch of each path in
/// a shuffled order, so load from other processes falls on all paths alike, and each path's best batch (the least
/// disturbed) estimates its cost. BenchmarkDotNet measures one benchmark after another; on a machine shared with
/// other work, load that changes between two benchmarks changes their ratio, while here it cannot.
/// </summary>
internal static unsafe class InterleavedCallCost
{
    public sealed record Result(string Method, string Category, double BestNs, double MedianNs);

    private const int Batch = 4096;

    private static nint s_handle;
    private static delegate* unmanaged[Cdecl]<int, int, int> s_add;
    private static delegate* unmanaged[Cdecl]<byte*> s_getMessage;
    private static AddFunction s_addDelegate = null!;
    private static GetMessageFunction s_getMessageDelegate = null!;
    private static ReloadableLibrary<GreeterTable> s_library = null!;

    public static IReadOnlyList<Result> Run(int rounds)
    {
        string path = Repo.Sample;
        GreeterImports.BindTo(path);
        s_handle = NativeLibrary.Load(path);
        s_add = (delegate* unmanaged[Cdecl]<int, int, int>)NativeLibrary.GetExport(s_handle, "add");
        s_getMessage = (delegate* unmanaged[Cdecl]<byte*>)NativeLibrary.GetExport(s_handle, "get_message");
        s_addDelegate = Marshal.GetDelegateForFunctionPointer<AddFunction>((nint)s_add);
        s_getMessageDelegate = Marshal.GetDelegateForFunctionPointer<GetMessageFunction>((nint)s_getMessage);
        s_library = new ReloadableLibrary<GreeterTable>(
            path, GreeterTable.Bind, new ReloadableLibraryOptions { ApplyMode = ApplyMode.AtSafePoint, WatchForChanges = false });
        try
        {
            (string Method, string Category, Func<int, long> Loop)[] paths =
            [
                ("Add_RawPointer", "add", AddRaw),
                ("Add_LibraryImport", "add", AddLibraryImport),
                ("Add_SafePoint", "add", AddSafePoint),
                ("Add_SafePoint_CurrentOnly", "add", AddSafePointCurrentOnly),
                ("Add_SafePoint_Frame", "add", AddSafePointFrame),
                ("Add_Concurrent", "add", AddConcurrent),
                ("Add_Concurrent_CallerSlot", "add", AddConcurrentCallerSlot),
                ("Add_GetExportPerCall", "add", AddGetExport),
                ("Add_Delegate", "add", AddDelegate),
                ("Message_RawPointer", "get_message", MessageRaw),
                ("Message_LibraryImport", "get_message", MessageLibraryImport),
                ("Message_SafePoint", "get_message", MessageSafePoint),
                ("Message_Concurrent", "get_message", MessageConcurrent),
                ("Message_GetExportPerCall", "get_message", MessageGetExport),
                ("Message_Delegate", "get_message", MessageDelegate),
            ];
            var samples = paths.Select(_ => new List<double>(rounds)).ToArray();
            int[] order = [.. Enumerable.Range(0, paths.Length)];
            for (int warm = 0; warm < 20; warm++)
            {
                foreach ((_, _, Func<int, long> loop) in paths)
                {
                    loop(Batch);
                }
            }

            for (int r = 0; r < rounds; r++)
            {
                Random.Shared.Shuffle(order);
                foreach (int p in order)
                {
                    long started = Stopwatch.GetTimestamp();
                    paths[p].Loop(Batch);
                    samples[p].Add(Stopwatch.GetElapsedTime(started).TotalNanoseconds / Batch);
                }
            }

            return [.. paths.Select((p, i) => new Result(p.Method, p.Category, samples[i].Min(), Median(samples[i])))];
        }
        finally
        {
            s_library.Dispose();
            NativeLibrary.Free(s_handle);
        }
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    // One loop per path, each body exactly the CallBenchmarks method's body.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long AddRaw(int n)
    {
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            s += s_add(i, 2);
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long AddLibraryImport(int n)
    {
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            s += GreeterImports.Add(i, 2);
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long AddSafePoint(int n)
    {
        ReloadableLibrary<GreeterTable> library = s_library;
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            library.ApplyPendingReload();
            s += library.Current.Exports.Add(i, 2);
        }

        return s;
    }

    /// <summary>The loop host: a safe point every <see cref="CallBenchmarks.Frame"/> calls, calls through the cached table.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long AddSafePointFrame(int n)
    {
        ReloadableLibrary<GreeterTable> library = s_library;
        long s = 0;
        for (int start = 0; start < n; start += CallBenchmarks.Frame)
        {
            library.ApplyPendingReload();
            GreeterTable exports = library.Current.Exports;
            int end = Math.Min(n, start + CallBenchmarks.Frame);
            for (int i = start; i < end; i++)
            {
                s += exports.Add(i, 2);
            }
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long AddSafePointCurrentOnly(int n)
    {
        ReloadableLibrary<GreeterTable> library = s_library;
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            s += library.Current.Exports.Add(i, 2);
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long AddConcurrentCallerSlot(int n)
    {
        ReloadableLibrary<GreeterTable> library = s_library;
        NativeReload.Calling.CallerSlot caller = NativeReload.Calling.CallerSlot.ForCurrentThread();
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            using var scope = library.Enter(caller);
            s += scope.Exports.Add(i, 2);
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long AddConcurrent(int n)
    {
        ReloadableLibrary<GreeterTable> library = s_library;
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            using var scope = library.Enter();
            s += scope.Exports.Add(i, 2);
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long AddGetExport(int n)
    {
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            s += ((delegate* unmanaged[Cdecl]<int, int, int>)NativeLibrary.GetExport(s_handle, "add"))(i, 2);
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long AddDelegate(int n)
    {
        AddFunction add = s_addDelegate;
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            s += add(i, 2);
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long MessageRaw(int n)
    {
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            s += NativeUtf8.Decode(s_getMessage()).Length;
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long MessageLibraryImport(int n)
    {
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            s += NativeUtf8.Decode(GreeterImports.GetMessage()).Length;
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long MessageSafePoint(int n)
    {
        ReloadableLibrary<GreeterTable> library = s_library;
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            library.ApplyPendingReload();
            s += NativeUtf8.Decode(library.Current.Exports.GetMessage()).Length;
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long MessageConcurrent(int n)
    {
        ReloadableLibrary<GreeterTable> library = s_library;
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            using var scope = library.Enter();
            s += NativeUtf8.Decode(scope.Exports.GetMessage()).Length;
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long MessageGetExport(int n)
    {
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            s += NativeUtf8.Decode(((delegate* unmanaged[Cdecl]<byte*>)NativeLibrary.GetExport(s_handle, "get_message"))()).Length;
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long MessageDelegate(int n)
    {
        GetMessageFunction getMessage = s_getMessageDelegate;
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            s += NativeUtf8.Decode((byte*)getMessage()).Length;
        }

        return s;
    }
}
