using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
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
public static partial class NativeUtf8
{
    /// <summary>The most bytes <see cref="TryDecodeUntrusted"/> reads looking for the terminating NUL (1 MiB).</summary>
    public const int MaxUntrustedBytes = 1 << 20;

    /// <summary>Decodes <paramref name="text"/> (UTF-8, NUL-terminated) through <paramref name="pool"/> (default: <see cref="StringPool.Shared"/>).</summary>
    /// <param name="text">Pointer returned by native code; null gives an empty string.</param>
    /// <param name="pool">The pool that deduplicates equal strings.</param>
    /// <remarks><b>Safety:</b> <paramref name="text"/> must point to a NUL-terminated string that stays valid
    /// during this call (its generation is alive). For a pointer of unknown provenance (an export whose signature
    /// the user named on a command line) use <see cref="TryDecodeUntrusted"/>, which never faults.</remarks>
    public static unsafe string Decode(byte* text, StringPool? pool = null)
    {
        if (text is null)
        {
            return string.Empty;
        }

        ReadOnlySpan<byte> bytes = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(text);
        return (pool ?? StringPool.Shared).GetOrAdd(bytes, Encoding.UTF8);
    }

    /// <summary>
    /// Decodes a value that native code returned as <c>const char*</c> but that may be anything: NULL, an integer
    /// (the export returns <c>int</c>), a wild pointer, bytes that are not UTF-8 or have no NUL. The memory is read
    /// through a probe that cannot fault (Linux: <c>process_vm_readv</c> on this process, or a check against
    /// <c>/proc/self/maps</c>; Windows: <c>ReadProcessMemory</c>), at most <see cref="MaxUntrustedBytes"/> bytes,
    /// and the bytes must be valid UTF-8.
    /// </summary>
    /// <param name="text">The value the export returned.</param>
    /// <param name="value">The string, when it was one.</param>
    /// <param name="problem">Otherwise one lower-case phrase that says what was returned instead, e.g.
    /// <c>it returned 0x55, which is not an address …</c>; meant to follow "did not return a readable string".</param>
    /// <param name="pool">The pool that deduplicates equal strings (default: <see cref="StringPool.Shared"/>).</param>
    /// <returns>True when <paramref name="value"/> holds the decoded string.</returns>
    /// <remarks>
    /// Costs a system call per page read, so it is for loops that call once per tick, not per frame.
    /// <b>Platform-specific behaviour:</b> on macOS and other systems without a probe only the address is checked
    /// (below 64 KiB, or 4 GiB on 64-bit macOS, nothing is ever mapped, which is where a returned integer lands);
    /// a wild pointer above that is read directly. The string must stay valid during this call.
    /// </remarks>
    public static unsafe bool TryDecodeUntrusted(
        nint text, [NotNullWhen(true)] out string? value, [NotNullWhen(false)] out string? problem, StringPool? pool = null)
    {
        value = null;
        if (text == 0)
        {
            problem = "it returned NULL";
            return false;
        }

        if ((nuint)text < LowestMappableAddress)
        {
            problem = Invariant($"it returned 0x{(nuint)text:x}, which is not an address: the export probably returns an integer, not a const char*");
            return false;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(256);
        try
        {
            int length = 0;
            while (true)
            {
                nuint address = (nuint)text + (nuint)length;
                int toPageEnd = PageSize - (int)(address % (nuint)PageSize);
                int chunk = Math.Min(toPageEnd, MaxUntrustedBytes - length);
                if (chunk == 0)
                {
                    problem = Invariant($"no terminating NUL in the first 1 MiB at 0x{(nuint)text:x}");
                    return false;
                }

                if (buffer.Length < length + chunk)
                {
                    byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Max(buffer.Length * 2, length + chunk));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                Span<byte> destination = buffer.AsSpan(length, chunk);
                if (!GuardedMemory.TryRead(address, destination))
                {
                    problem = length == 0
                        ? Invariant($"it returned 0x{(nuint)text:x}, which points to no readable memory")
                        : Invariant($"the bytes at 0x{(nuint)text:x} run into unreadable memory after {length} bytes without a terminating NUL");
                    return false;
                }

                int nul = destination.IndexOf((byte)0);
                if (nul >= 0)
                {
                    length += nul;
                    break;
                }

                length += chunk;
            }

            ReadOnlySpan<byte> bytes = buffer.AsSpan(0, length);
            if (!System.Text.Unicode.Utf8.IsValid(bytes))
            {
                int offset = FirstInvalidUtf8(bytes);
                problem = Invariant($"the {length} bytes at 0x{(nuint)text:x} are not valid UTF-8 (byte 0x{bytes[offset]:X2} at offset {offset})");
                return false;
            }

            value = (pool ?? StringPool.Shared).GetOrAdd(bytes, Encoding.UTF8);
            problem = null;
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Below this no OS maps anything: Linux's default <c>vm.mmap_min_addr</c> and Windows reserve 64 KiB,
    /// and 64-bit macOS reserves the first 4 GiB (<c>__PAGEZERO</c>), so a returned 32-bit integer always lands here.</summary>
    private static nuint LowestMappableAddress { get; } =
        OperatingSystem.IsMacOS() && Environment.Is64BitProcess ? unchecked((nuint)0x1_0000_0000UL) : 0x10000;

    /// <summary>Probes are split at page boundaries so that a partial read can never straddle a mapping's end; 4 KiB is
    /// a divisor of every page size in use.</summary>
    private const int PageSize = 4096;

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        int offset = 0;
        while (offset < bytes.Length)
        {
            if (Rune.DecodeFromUtf8(bytes[offset..], out _, out int consumed) != System.Buffers.OperationStatus.Done)
            {
                return offset;
            }

            offset += consumed;
        }

        return 0;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>Reads memory of this process without faulting: an unreadable address gives false, not a crash.</summary>
    private static unsafe partial class GuardedMemory
    {
        private const int EFault = 14;

        // Cleared when the kernel or a seccomp filter refuses process_vm_readv (ENOSYS, EPERM): then /proc/self/maps.
        private static volatile bool s_useVmReadv = OperatingSystem.IsLinux();

        public static bool TryRead(nuint address, Span<byte> destination)
        {
            fixed (byte* target = destination)
            {
                nuint length = (nuint)destination.Length;
                if (OperatingSystem.IsWindows())
                {
                    return ReadProcessMemory(-1, address, target, length, out nuint read) != 0 && read == length;
                }

                if (OperatingSystem.IsLinux())
                {
                    if (s_useVmReadv)
                    {
                        var local = new IoVec { Base = (nuint)target, Length = length };
                        var remote = new IoVec { Base = address, Length = length };
                        nint read = ProcessVmReadv(Environment.ProcessId, &local, 1, &remote, 1, 0);
                        if (read == (nint)length)
                        {
                            return true;
                        }

                        if (read >= 0 || Marshal.GetLastPInvokeError() == EFault)
                        {
                            return false; // a short read: the tail is not mapped
                        }

                        s_useVmReadv = false;
                    }

                    if (!IsInReadableMapping(address, length))
                    {
                        return false;
                    }
                }

                new ReadOnlySpan<byte>((void*)address, destination.Length).CopyTo(destination);
                return true;
            }
        }

        /// <summary>True when one readable mapping of <c>/proc/self/maps</c> holds the whole range.</summary>
        private static bool IsInReadableMapping(nuint address, nuint length)
        {
            try
            {
                foreach (string line in File.ReadLines("/proc/self/maps"))
                {
                    // "7f1c2a000000-7f1c2a021000 r-xp 00000000 fd:01 1234 /usr/lib/libc.so.6"
                    int dash = line.IndexOf('-', StringComparison.Ordinal);
                    int space = line.IndexOf(' ', StringComparison.Ordinal);
                    if (dash <= 0 || space <= dash + 1 || space + 1 >= line.Length
                        || !ulong.TryParse(line.AsSpan(0, dash), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong start)
                        || !ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong end))
                    {
                        continue;
                    }

                    if (start <= address && (UInt128)address + length <= end)
                    {
                        return line[space + 1] == 'r';
                    }
                }
            }
            catch (IOException)
            {
            }

            return false;
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct IoVec
        {
            public nuint Base;
            public nuint Length;
        }

        [LibraryImport("libc", EntryPoint = "process_vm_readv", SetLastError = true)]
        private static partial nint ProcessVmReadv(int pid, IoVec* local, nuint localCount, IoVec* remote, nuint remoteCount, nuint flags);

        [LibraryImport("kernel32", EntryPoint = "ReadProcessMemory", SetLastError = true)]
        private static partial int ReadProcessMemory(nint process, nuint address, byte* buffer, nuint size, out nuint read);
    }
}
