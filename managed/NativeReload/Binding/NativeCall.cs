using System.Buffers;
using System.ComponentModel;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text;
using NativeReload.Calling;

namespace NativeReload.Binding;

/// <summary>
/// The unsafe half of generated bindings: typed calls through an export's address, pinning of span arguments,
/// UTF-8 encoding and decoding. Code generated for <see cref="NativeExportsAttribute"/> classes passes only
/// addresses (<see cref="nint"/>) and values here, so the project that declares the exports needs no
/// <c>unsafe</c> code and no <c>AllowUnsafeBlocks</c>.
/// </summary>
/// <remarks>
/// Every method is small and aggressively inlined: for blittable type arguments the JIT specialises each generic
/// instantiation, so a call costs what a hand-written <c>delegate* unmanaged</c> field costs.
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Advanced)]
public static partial class NativeCall
{
    /// <summary>Bytes of stack the generated code gives each UTF-8 string argument before renting from the array pool.</summary>
    public const int Utf8StackBytes = 256;

    /// <summary>Copies a NUL-terminated UTF-8 string returned by native code (<c>const char*</c>) through the pooled decoder.</summary>
    /// <param name="text">The returned pointer; zero gives an empty string.</param>
    /// <returns>The decoded string (the same instance as last time when the text did not change).</returns>
    /// <remarks><b>Safety:</b> <paramref name="text"/> must point to a NUL-terminated string of a live generation.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe string DecodeUtf8(nint text) => NativeUtf8.Decode((byte*)text);

    /// <summary>
    /// Encodes <paramref name="text"/> as NUL-terminated UTF-8 into <paramref name="scratch"/>, or into a buffer
    /// rented from <see cref="ArrayPool{T}.Shared"/> when it does not fit (give it back with <see cref="ReturnUtf8"/>).
    /// </summary>
    /// <param name="text">The string; null gives an empty span, which is passed as a NULL pointer.</param>
    /// <param name="scratch">Caller's buffer, usually <c>stackalloc byte[Utf8StackBytes]</c>.</param>
    /// <param name="rented">The rented array, or null when <paramref name="scratch"/> was enough.</param>
    /// <returns>The encoded bytes including the terminating NUL.</returns>
    public static ReadOnlySpan<byte> EncodeUtf8(string? text, Span<byte> scratch, out byte[]? rented)
    {
        rented = null;
        if (text is null)
        {
            return default;
        }

        int needed = Encoding.UTF8.GetMaxByteCount(text.Length) + 1;
        if (needed > scratch.Length)
        {
            needed = Encoding.UTF8.GetByteCount(text) + 1;
            if (needed > scratch.Length)
            {
                rented = ArrayPool<byte>.Shared.Rent(needed);
                scratch = rented;
            }
        }

        int written = Encoding.UTF8.GetBytes(text, scratch);
        scratch[written] = 0;
        return scratch[..(written + 1)];
    }

    /// <summary>Gives back a buffer rented by <see cref="EncodeUtf8"/> (null: nothing to do).</summary>
    /// <param name="rented">The array <see cref="EncodeUtf8"/> returned through its <c>rented</c> parameter.</param>
    public static void ReturnUtf8(byte[]? rented)
    {
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Pins <paramref name="s1"/> for the duration of <paramref name="call"/> and gives it its address.</summary>
    /// <typeparam name="T1">Element type of the span (blittable).</typeparam>
    /// <typeparam name="TCall">The generated call: holds the other arguments.</typeparam>
    /// <typeparam name="TResult">The call's result.</typeparam>
    /// <param name="s1">The span; an empty span is passed as a NULL pointer.</param>
    /// <param name="call">The generated call.</param>
    /// <returns>The call's result.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe TResult Pin<T1, TCall, TResult>(ReadOnlySpan<T1> s1, ref TCall call)
        where T1 : unmanaged
        where TCall : struct, IPinnedCall1<TResult>
    {
        fixed (T1* p1 = s1)
        {
            return call.Invoke((nint)p1);
        }
    }

    /// <summary>Pins two spans for the duration of <paramref name="call"/> and gives it their addresses.</summary>
    /// <typeparam name="T1">Element type of the first span.</typeparam>
    /// <typeparam name="T2">Element type of the second span.</typeparam>
    /// <typeparam name="TCall">The generated call.</typeparam>
    /// <typeparam name="TResult">The call's result.</typeparam>
    /// <param name="s1">The first span.</param>
    /// <param name="s2">The second span.</param>
    /// <param name="call">The generated call.</param>
    /// <returns>The call's result.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe TResult Pin<T1, T2, TCall, TResult>(ReadOnlySpan<T1> s1, ReadOnlySpan<T2> s2, ref TCall call)
        where T1 : unmanaged
        where T2 : unmanaged
        where TCall : struct, IPinnedCall2<TResult>
    {
        fixed (T1* p1 = s1)
        fixed (T2* p2 = s2)
        {
            return call.Invoke((nint)p1, (nint)p2);
        }
    }

    /// <summary>Pins three spans for the duration of <paramref name="call"/> and gives it their addresses.</summary>
    /// <typeparam name="T1">Element type of the first span.</typeparam>
    /// <typeparam name="T2">Element type of the second span.</typeparam>
    /// <typeparam name="T3">Element type of the third span.</typeparam>
    /// <typeparam name="TCall">The generated call.</typeparam>
    /// <typeparam name="TResult">The call's result.</typeparam>
    /// <param name="s1">The first span.</param>
    /// <param name="s2">The second span.</param>
    /// <param name="s3">The third span.</param>
    /// <param name="call">The generated call.</param>
    /// <returns>The call's result.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe TResult Pin<T1, T2, T3, TCall, TResult>(ReadOnlySpan<T1> s1, ReadOnlySpan<T2> s2, ReadOnlySpan<T3> s3, ref TCall call)
        where T1 : unmanaged
        where T2 : unmanaged
        where T3 : unmanaged
        where TCall : struct, IPinnedCall3<TResult>
    {
        fixed (T1* p1 = s1)
        fixed (T2* p2 = s2)
        fixed (T3* p3 = s3)
        {
            return call.Invoke((nint)p1, (nint)p2, (nint)p3);
        }
    }

    /// <summary>Throws the exception for a call to an optional export the current generation does not have.</summary>
    /// <param name="export">The exported symbol name.</param>
    /// <param name="filePath">The library file the generation was loaded from.</param>
    /// <param name="generation">The generation's number.</param>
    /// <param name="availabilityProperty">The generated property that says whether the export is there.</param>
    /// <exception cref="EntryPointNotFoundException">Always.</exception>
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowMissingExport(string export, string filePath, long generation, string availabilityProperty) =>
        throw new EntryPointNotFoundException(
            $"export '{export}' is not in {filePath} (generation {generation}): it is optional, so check {availabilityProperty} before calling it");
}
