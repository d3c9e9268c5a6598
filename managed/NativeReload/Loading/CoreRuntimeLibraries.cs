namespace NativeReload.Loading;

/// <summary>
/// The libraries every process already runs on: the C runtime and the dynamic loader. A second copy of one (what
/// loading it through a shadow copy gives) has its own heap, locks, thread list and <c>errno</c> next to the real
/// ones, and corrupts the process; so they are refused by name, on every OS, whatever else is known about them.
/// </summary>
internal static class CoreRuntimeLibraries
{
    /// <summary>
    /// Says what <paramref name="fileName"/> is when it names the C runtime or the loader (<c>the C runtime</c>,
    /// <c>the dynamic loader</c>, …), else null. Matching ignores case (Windows and macOS file systems do).
    /// </summary>
    /// <param name="fileName">A file name or soname, without directory: <c>libc.so.6</c>, <c>ld-linux-x86-64.so.2</c>.</param>
    public static string? Describe(string fileName)
    {
        string name = fileName.ToLowerInvariant();

        // ELF: libc.so.6, libc.so (musl), libc-2.31.so (old glibc real names), and the loaders.
        if (IsElf(name, "libc") || name.StartsWith("libc.musl-", StringComparison.Ordinal))
        {
            return "the C runtime";
        }

        if (IsElf(name, "libpthread") || IsElf(name, "libdl"))
        {
            return "part of the C runtime";
        }

        if (name.StartsWith("ld-linux", StringComparison.Ordinal) || name.StartsWith("ld-musl", StringComparison.Ordinal)
            || IsElf(name, "ld64") || IsElf(name, "ld") || name.StartsWith("ld-2.", StringComparison.Ordinal))
        {
            return "the dynamic loader";
        }

        // macOS: libSystem and the pieces it re-exports, and dyld.
        if (name is "libsystem.b.dylib" or "libsystem.dylib" or "libsystem_c.dylib" or "libsystem_kernel.dylib" or "libdyld.dylib" or "dyld")
        {
            return name == "dyld" || name == "libdyld.dylib" ? "the dynamic loader" : "the C runtime (libSystem)";
        }

        // Windows: the C runtimes and the system DLLs that hold the loader.
        if (name is "ucrtbase.dll" or "msvcrt.dll" || name.StartsWith("api-ms-win-crt-", StringComparison.Ordinal))
        {
            return "the C runtime";
        }

        if (name is "kernel32.dll" or "kernelbase.dll" or "ntdll.dll")
        {
            return "a core Windows DLL (the loader and the process's own state live there)";
        }

        return null;
    }

    /// <summary><c>stem.so</c>, <c>stem.so.N…</c> or <c>stem-X.Y.so</c>.</summary>
    private static bool IsElf(string name, string stem) =>
        name == stem + ".so"
        || name.StartsWith(stem + ".so.", StringComparison.Ordinal)
        || (name.StartsWith(stem + "-", StringComparison.Ordinal) && name.EndsWith(".so", StringComparison.Ordinal)
            && name.Length > stem.Length + 4 && char.IsAsciiDigit(name[stem.Length + 1]));
}
