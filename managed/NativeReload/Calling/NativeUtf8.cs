using System.Runtime.InteropServices;
using System.Text;
using CommunityToolkit.HighPerformance.Buffers;

namespace NativeReload.Calling;

/// <summary>
/// Copies NUL-terminated UTF-8 strings returned by native code into managed strings.
/// </summary>
/// <remarks>
/// A <c>const char*</c> returned by a library points into that library's memory and dangles once its
/// generation is freed, so it must be copied while the generation is alive. Decoding goes through a
/// <see cref="StringPool"/>: a message that did not change since the last call returns the same string
/// instance and allocates nothing, which matters for hosts that call once per frame.
/// Never declare such exports as returning <see cref="string"/> with a marshaller: the runtime would
/// <c>free()</c> a pointer it does not own.
/// </remarks>
public static class NativeUtf8
{
    /// <summary>Decodes <paramref name="text"/> (UTF-8, NUL-terminated) through <paramref name="pool"/> (default: <see cref="StringPool.Shared"/>).</summary>
    /// <param name="text">Pointer returned by native code; null gives an empty string.</param>
    /// <param name="pool">The pool that deduplicates equal strings.</param>
    /// <remarks><b>Safety:</b> <paramref name="text"/> must point to a NUL-terminated string that stays valid
    /// during this call (its generation is alive).</remarks>
    public static unsafe string Decode(byte* text, StringPool? pool = null)
    {
        if (text is null)
        {
            return string.Empty;
        }

        ReadOnlySpan<byte> bytes = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(text);
        return (pool ?? StringPool.Shared).GetOrAdd(bytes, Encoding.UTF8);
    }
}
