namespace NativeReload.Loading;

/// <summary>
/// Tells whether a file is still mapped into this process after its library was freed.
/// glibc keeps libraries mapped that registered thread-local destructors (C++ <c>thread_local</c>,
/// Rust <c>thread_local!</c>), that carry <c>STB_GNU_UNIQUE</c> symbols, or that are <c>RTLD_NODELETE</c>.
/// </summary>
internal static partial class MappingInspector
{
    /// <summary>True or false on Linux (read from <c>/proc/self/maps</c>); null where the OS does not tell.</summary>
    /// <remarks>This runs once per retired generation, and a host with a thousand libraries has thousands of mappings,
    /// which the kernel formats on every read of the file (several milliseconds). So the loader is asked first, in
    /// memory: a library it no longer holds was unmapped by <c>dlclose</c> (glibc unmaps as it unloads). Only a library
    /// the loader still holds is looked up in the maps, by bytes, without decoding them into lines.</remarks>
    public static bool? IsMapped(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        if (LoaderHolds(path) == false)
        {
            return false;
        }

        byte[]? maps = null;
        try
        {
            int length = ReadMaps(ref maps);
            ReadOnlySpan<byte> text = maps.AsSpan(0, length);
            byte[] wanted = System.Text.Encoding.UTF8.GetBytes(path);
            ReadOnlySpan<byte> deleted = " (deleted)"u8;
            int at;
            while ((at = text.IndexOf(wanted)) >= 0)
            {
                // Path is the last column; a deleted file shows " (deleted)" after it.
                ReadOnlySpan<byte> rest = text[(at + wanted.Length)..];
                if (rest.IsEmpty || rest[0] == (byte)'\n' || (rest.StartsWith(deleted) && (rest.Length == deleted.Length || rest[deleted.Length] == (byte)'\n')))
                {
                    if (at > 0 && text[at - 1] == (byte)' ')
                    {
                        return true;
                    }
                }

                text = rest;
            }

            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        finally
        {
            if (maps is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(maps);
            }
        }
    }

    /// <summary>
    /// Number of memory mappings of this process (lines of <c>/proc/self/maps</c>), counted without decoding the text;
    /// null where the OS does not tell. About 1 ms for ten thousand mappings.
    /// </summary>
    public static long? CountMappings()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        byte[]? maps = null;
        try
        {
            int length = ReadMaps(ref maps);
            return maps.AsSpan(0, length).Count((byte)'\n');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        finally
        {
            if (maps is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(maps);
            }
        }
    }

    /// <summary>The kernel's limit on mappings per process (<c>/proc/sys/vm/max_map_count</c>); null where unknown.</summary>
    public static long? MappingLimit()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            return long.TryParse(File.ReadAllText("/proc/sys/vm/max_map_count").Trim(), System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out long limit) && limit > 0 ? limit : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Whether the dynamic loader still holds a library opened under <paramref name="path"/> (<c>dlopen</c> with
    /// <c>RTLD_NOLOAD</c>, which loads nothing and only matches objects already loaded); null when it cannot be asked.
    /// </summary>
    private static bool? LoaderHolds(string path)
    {
        try
        {
            nint handle = LoaderNative.Open(path, LoaderNative.RtldLazy | LoaderNative.RtldNoLoad);
            if (handle == 0)
            {
                return false;
            }

            _ = LoaderNative.Close(handle); // NOLOAD took a reference like any dlopen: give it back
            return true;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null; // glibc before 2.34 has dlopen in libdl: the maps answer alone
        }
    }

    /// <summary>Reads all of <c>/proc/self/maps</c> into a pooled buffer (returned by the caller); returns its length.</summary>
    private static int ReadMaps([System.Diagnostics.CodeAnalysis.NotNull] ref byte[]? buffer)
    {
        buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(256 * 1024);
        using var maps = new FileStream("/proc/self/maps", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
        int length = 0;
        int read;
        while ((read = maps.Read(buffer, length, buffer.Length - length)) > 0)
        {
            length += read;
            if (length == buffer.Length)
            {
                byte[] larger = System.Buffers.ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                buffer.AsSpan(0, length).CopyTo(larger);
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                buffer = larger;
            }
        }

        return length;
    }

    private static partial class LoaderNative
    {
        public const int RtldLazy = 0x1;
        public const int RtldNoLoad = 0x4;

        [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "dlopen", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
        public static partial nint Open(string path, int flags);

        [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "dlclose")]
        public static partial int Close(nint handle);
    }
}
