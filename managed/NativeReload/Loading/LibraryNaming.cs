using System.Runtime.InteropServices;

namespace NativeReload.Loading;

/// <summary>
/// How each OS names a shared library built from a target called <c>name</c>: <c>libname.so</c> on Linux,
/// <c>libname.dylib</c> on macOS, <c>name.dll</c> on Windows (CMake's and cargo's defaults).
/// </summary>
public static class LibraryNaming
{
    /// <summary>The file name a library target <paramref name="name"/> gets on <paramref name="platform"/>.</summary>
    /// <param name="name">A bare name such as <c>greeter</c>.</param>
    /// <param name="platform"><see cref="OSPlatform.Linux"/>, <see cref="OSPlatform.OSX"/>, <see cref="OSPlatform.Windows"/> or <see cref="OSPlatform.FreeBSD"/>.</param>
    public static string FileName(string name, OSPlatform platform)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (platform == OSPlatform.Windows)
        {
            return name + ".dll";
        }

        return platform == OSPlatform.OSX ? $"lib{name}.dylib" : $"lib{name}.so";
    }

    /// <summary>The file name a library target <paramref name="name"/> gets on this OS.</summary>
    /// <param name="name">A bare name such as <c>greeter</c>.</param>
    public static string FileName(string name) => FileName(name, CurrentPlatform);

    /// <summary>True when <paramref name="path"/> already names a file (has a directory or a library extension), rather than a bare name.</summary>
    /// <param name="path">What the user typed.</param>
    /// <param name="platform">The platform whose extensions count.</param>
    public static bool LooksLikePath(string path, OSPlatform platform)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Contains('/', StringComparison.Ordinal) || path.Contains('\\', StringComparison.Ordinal))
        {
            return true;
        }

        string extension = Path.GetExtension(path);
        return platform == OSPlatform.Windows
            ? extension.Equals(".dll", StringComparison.OrdinalIgnoreCase)
            : extension is ".so" or ".dylib" || path.Contains(".so.", StringComparison.Ordinal);
    }

    /// <summary>
    /// Resolves what a user typed to a file: an existing path is kept; a bare name such as <c>greeter</c> becomes
    /// the platform's file name in <paramref name="directory"/> (or the current directory).
    /// </summary>
    /// <param name="nameOrPath">A path, or a bare library name.</param>
    /// <param name="directory">Where to look for a bare name; null for the current directory.</param>
    public static string Resolve(string nameOrPath, string? directory = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(nameOrPath);
        if (File.Exists(nameOrPath) || LooksLikePath(nameOrPath, CurrentPlatform))
        {
            return nameOrPath;
        }

        return Path.Combine(directory ?? Directory.GetCurrentDirectory(), FileName(nameOrPath));
    }

    /// <summary>This process's OS as an <see cref="OSPlatform"/>.</summary>
    public static OSPlatform CurrentPlatform =>
        OperatingSystem.IsWindows() ? OSPlatform.Windows
        : OperatingSystem.IsMacOS() ? OSPlatform.OSX
        : OperatingSystem.IsFreeBSD() ? OSPlatform.FreeBSD
        : OSPlatform.Linux;
}
