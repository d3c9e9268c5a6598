namespace NativeReload.Loading;

/// <summary>
/// Tells whether a file is still mapped into this process after its library was freed.
/// glibc keeps libraries mapped that registered thread-local destructors (C++ <c>thread_local</c>,
/// Rust <c>thread_local!</c>), that carry <c>STB_GNU_UNIQUE</c> symbols, or that are <c>RTLD_NODELETE</c>.
/// </summary>
internal static class MappingInspector
{
    /// <summary>True or false on Linux (read from <c>/proc/self/maps</c>); null where the OS does not tell.</summary>
    public static bool? IsMapped(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                // Path is the last column; a deleted file shows " (deleted)" after it.
                if (line.EndsWith(path, StringComparison.Ordinal) || line.EndsWith(path + " (deleted)", StringComparison.Ordinal))
                {
                    return true;
                }
            }

            return false;
        }
        catch (IOException)
        {
            return null;
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

        try
        {
            using var maps = new FileStream("/proc/self/maps", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(64 * 1024);
            try
            {
                long lines = 0;
                int read;
                while ((read = maps.Read(buffer, 0, buffer.Length)) > 0)
                {
                    lines += buffer.AsSpan(0, read).Count((byte)'\n');
                }

                return lines;
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
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
}
