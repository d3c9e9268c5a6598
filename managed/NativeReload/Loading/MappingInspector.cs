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
}
