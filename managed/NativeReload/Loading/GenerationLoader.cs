using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NativeReload.Reloading;
using NativeReload.ShadowCopying;

namespace NativeReload.Loading;

/// <summary>
/// Turns a validated <see cref="CandidateFile"/> into a <see cref="LibraryGeneration{TExports}"/>: shadow copy,
/// its dependencies from the original folder (<see cref="DependencyPreloader"/>), OS load, export binding (refused near
/// the process's mapping limit: <see cref="MappingBudget"/>). On any failure everything it created is undone and a
/// <see cref="LibraryLoadException"/> says why; the caller's current generation is never touched.
/// </summary>
/// <remarks>
/// Before loading it refuses the C runtime and the dynamic loader (<see cref="CoreRuntimeLibraries"/>) and warns when
/// the process already has the library (<see cref="LoadedLibraries"/>); a generation that will not behave like a
/// fresh copy (<c>STB_GNU_UNIQUE</c> symbols) carries a warning in <see cref="LibraryGeneration.Warnings"/>, which
/// is also logged once, here.
/// </remarks>
internal static class GenerationLoader
{
    public static LibraryGeneration<TExports> Load<TExports>(
        CandidateFile candidate,
        long number,
        ShadowCopyDirectory shadows,
        Func<ExportResolver, TExports> bind,
        uint? expectedApiVersion = null,
        ILogger? logger = null)
        where TExports : class
    {
        logger ??= NullLogger.Instance;
        string filePath = candidate.FilePath;
        MappingBudget.Current.EnsureRoomFor(filePath); // near vm.max_map_count one more dlopen could end the process
        List<string> warnings = CheckNotLoadedYet(candidate, number, logger);
        if (candidate.Dynamic is { UniqueSymbolCount: > 0 } unique)
        {
            warnings.Add(UniqueSymbolsWarning(unique));
        }

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

            var generation = new LibraryGeneration<TExports>(number, filePath, copy, handle, candidate.ContentHash, exports)
            {
                Plugin = plugin,
                Dependencies = dependencies,
                Warnings = warnings,
                UniqueSymbols = candidate.Dynamic?.UniqueSymbols.Select(Validation.ItaniumDemangler.Demangle).ToArray() ?? [],
            };
            foreach (string warning in warnings)
            {
                Log.GenerationWarning(logger, filePath, number, warning);
            }

            return generation;
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

    /// <summary>
    /// Refuses the C runtime and the loader; for any other library the process already has (the same file, or the
    /// same soname), logs a warning before the second copy is loaded and returns it for the generation.
    /// </summary>
    private static List<string> CheckNotLoadedYet(CandidateFile candidate, long number, ILogger logger)
    {
        string filePath = candidate.FilePath;
        string[] names = [Path.GetFileName(filePath), Path.GetFileName(candidate.Stamp.ResolvedPath), candidate.Dynamic?.Soname ?? string.Empty];
        foreach (string name in names.Where(n => n.Length > 0).Distinct(StringComparer.Ordinal))
        {
            if (CoreRuntimeLibraries.Describe(name) is { } what)
            {
                throw new LibraryLoadException(filePath, ReloadFailureReason.CoreRuntime,
                    $"{name} is {what}, which this process already runs on; a second copy would have its own heap, locks and thread state and corrupt the process, so it is never loaded");
            }
        }

        var warnings = new List<string>();
        if (LoadedLibraries.Find(candidate.Stamp.ResolvedPath, candidate.Dynamic?.Soname) is { } loaded)
        {
            Log.AlreadyLoaded(logger, filePath, loaded.Path, loaded.How, number);
            warnings.Add($"is already loaded by this process as {loaded.Path} ({loaded.How}); this generation is a second, separate copy: "
                + "its globals are not the first copy's, and libraries linked against that one keep using it");
        }

        return warnings;
    }

    /// <summary>One line: which symbols (demangled, at most five), what it means, and the remedy.</summary>
    private static string UniqueSymbolsWarning(Validation.ElfDynamicInfo unique)
    {
        const int Shown = 5;
        IEnumerable<string> names = unique.UniqueSymbols.Take(Shown).Select(Validation.ItaniumDemangler.Demangle);
        string list = string.Join(", ", names);
        int more = unique.UniqueSymbolCount - Math.Min(Shown, unique.UniqueSymbols.Count);
        if (more > 0)
        {
            list += $" and {more} more";
        }

        string noun = unique.UniqueSymbolCount == 1 ? "symbol" : "symbols";
        return $"has {unique.UniqueSymbolCount} STB_GNU_UNIQUE {noun} ({list}): the loader binds each to the first loaded copy that "
            + "defined it, process-wide, so after a reload the new code runs on the old objects (their state is not reset) "
            + "and no copy that defines them is ever unmapped; build the C++ code with -fno-gnu-unique (GCC), or make them non-inline";
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
