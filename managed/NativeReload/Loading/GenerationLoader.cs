using System.Runtime.InteropServices;
using System.Security.Cryptography;
using NativeReload.Reloading;
using NativeReload.ShadowCopying;

namespace NativeReload.Loading;

/// <summary>
/// Turns a validated <see cref="CandidateFile"/> into a <see cref="LibraryGeneration{TExports}"/>: shadow copy,
/// its dependencies from the original folder (<see cref="DependencyPreloader"/>), OS load, export binding. On any failure everything it created is undone and a
/// <see cref="LibraryLoadException"/> says why; the caller's current generation is never touched.
/// </summary>
internal static class GenerationLoader
{
    public static LibraryGeneration<TExports> Load<TExports>(
        CandidateFile candidate,
        long number,
        ShadowCopyDirectory shadows,
        Func<ExportResolver, TExports> bind,
        uint? expectedApiVersion = null)
        where TExports : class
    {
        string filePath = candidate.FilePath;
        string copy;
        try
        {
            copy = shadows.WriteCopy(Path.GetFileName(filePath), number, candidate.Content);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LibraryLoadException(filePath, ReloadFailureReason.IoError, $"cannot write shadow copy in {shadows.Path}: {e.Message}", e);
        }

        // The copy was written from the very bytes that were validated and hashed; check that the file the loader
        // will open holds exactly them (a short write, a full disk or anyone touching the private directory).
        string? copyHash = HashOf(copy);
        if (!string.Equals(copyHash, candidate.ContentHash, StringComparison.Ordinal))
        {
            shadows.TryDeleteCopy(copy);
            throw new LibraryLoadException(filePath, ReloadFailureReason.IoError, $"shadow copy {copy} does not hold the validated bytes (SHA-256 {copyHash ?? "unreadable"}, expected {candidate.ContentHash})");
        }

        // The copy sits in the shadow folder, but its dependencies are beside the original ($ORIGIN, the DLL's
        // folder): load those from there first, so the loader binds the copy to them.
        PreloadedDependencies dependencies;
        try
        {
            dependencies = DependencyPreloader.Load(candidate, number, shadows);
        }
        catch (LibraryLoadException)
        {
            shadows.TryDeleteCopy(copy);
            throw;
        }

        nint handle;
        try
        {
            handle = NativeLibrary.Load(copy);
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            dependencies.Free();
            shadows.TryDeleteCopy(copy);
            throw new LibraryLoadException(filePath, ReloadFailureReason.LoaderRejected, $"the loader refused it: {OneLine(e.Message)}{DependencyPreloader.DescribeMissing(candidate)}", e);
        }

        try
        {
            var resolver = new ExportResolver(handle, filePath, number);
            TExports exports = bind(resolver);
            if (resolver.MissingExports.Count > 0)
            {
                string names = string.Join(", ", resolver.MissingExports);
                string noun = resolver.MissingExports.Count == 1 ? "export" : "exports";
                throw new LibraryLoadException(filePath, ReloadFailureReason.MissingExport, $"missing {noun} {names}");
            }

            Plugins.PluginHooks? plugin = Plugins.PluginHooks.Resolve(resolver);
            if (plugin?.CheckVersions(expectedApiVersion) is { } mismatch)
            {
                throw new LibraryLoadException(filePath, ReloadFailureReason.AbiMismatch, mismatch);
            }

            if (plugin is not null && plugin.StateSize > Plugins.StateBlock.MaxSize)
            {
                // Refused before any allocation: a garbage or hostile state_size must not cost memory or an odd exception.
                throw new LibraryLoadException(filePath, ReloadFailureReason.InitFailed,
                    $"nr_get_plugin_info asks for a state block of {plugin.StateSize} bytes; the host allows at most {Plugins.StateBlock.MaxSize}");
            }

            return new LibraryGeneration<TExports>(number, filePath, copy, handle, candidate.ContentHash, exports) { Plugin = plugin, Dependencies = dependencies };
        }
        catch (Exception e)
        {
            NativeLibrary.Free(handle);
            dependencies.Free();
            shadows.TryDeleteCopy(copy);
            if (e is LibraryLoadException)
            {
                throw;
            }

            throw new LibraryLoadException(filePath, ReloadFailureReason.InitFailed, $"binding exports failed: {OneLine(e.Message)}", e);
        }
    }

    private static string? HashOf(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();
}
