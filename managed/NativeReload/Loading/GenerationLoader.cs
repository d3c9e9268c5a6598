using System.Runtime.InteropServices;
using NativeReload.Reloading;
using NativeReload.ShadowCopying;

namespace NativeReload.Loading;

/// <summary>
/// Turns a validated <see cref="CandidateFile"/> into a <see cref="LibraryGeneration{TExports}"/>: shadow copy,
/// OS load, export binding. On any failure everything it created is undone and a
/// <see cref="LibraryLoadException"/> says why; the caller's current generation is never touched.
/// </summary>
internal static class GenerationLoader
{
    public static LibraryGeneration<TExports> Load<TExports>(
        CandidateFile candidate,
        long number,
        ShadowCopyDirectory shadows,
        Func<ExportResolver, TExports> bind)
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

        nint handle;
        try
        {
            handle = NativeLibrary.Load(copy);
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            shadows.TryDeleteCopy(copy);
            throw new LibraryLoadException(filePath, ReloadFailureReason.LoaderRejected, $"the loader refused it: {OneLine(e.Message)}", e);
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

            return new LibraryGeneration<TExports>(number, filePath, copy, handle, candidate.ContentHash, exports);
        }
        catch (Exception e)
        {
            NativeLibrary.Free(handle);
            shadows.TryDeleteCopy(copy);
            if (e is LibraryLoadException)
            {
                throw;
            }

            throw new LibraryLoadException(filePath, ReloadFailureReason.InitFailed, $"binding exports failed: {OneLine(e.Message)}", e);
        }
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();
}
