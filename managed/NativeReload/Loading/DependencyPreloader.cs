using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using NativeReload.Reloading;
using NativeReload.ShadowCopying;

namespace NativeReload.Loading;

/// <summary>
/// Makes a shadow copy find its dependencies where the original would: every dependency the library finds in its
/// own folder (ELF <c>DT_RUNPATH</c>/<c>DT_RPATH</c> <c>$ORIGIN</c>; a PE import present in the DLL's folder) is loaded
/// from the ORIGINAL folder before the copy, so the loader binds the copy to that already-loaded library (glibc
/// matches it by SONAME, Windows by module name). The handles live and die with the generation.
/// </summary>
/// <remarks>
/// A loaded dependency is never replaced while anything holds it: when its file changed since, the new generation
/// still binds the old one. That is detected and logged (<see cref="DependencyLog.StaleDependency"/>), not fixed:
/// fixing it means copying the dependency under a new name and rewriting the importer's reference to it.
/// macOS (<c>@loader_path</c>, <c>@rpath</c>) is not handled yet.
/// </remarks>
internal static class DependencyPreloader
{
    private static readonly StringComparer NameComparer = OperatingSystem.IsWindows() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;
    private static readonly Dictionary<string, LoadedDependency> s_loaded = new(NameComparer);
    private static readonly Lock s_lock = new();

    /// <summary>
    /// Loads the dependencies of <paramref name="candidate"/> that it finds beside its original file; returns the
    /// handles to free with the generation (empty when there is nothing to do).
    /// </summary>
    /// <exception cref="LibraryLoadException">A dependency beside the library exists but the loader refused it.</exception>
    public static PreloadedDependencies Load(CandidateFile candidate, long generation, ShadowCopyDirectory shadows)
    {
        List<string> found = Resolve(candidate);
        if (found.Count == 0)
        {
            return PreloadedDependencies.None;
        }

        ILogger logger = shadows.Logger;
        string library = Path.GetFileName(candidate.FilePath);
        var held = new List<(string Name, nint Handle)>();

        // Windows locks a loaded DLL: loaded from the user's folder, the dependency could not be rebuilt. So it is
        // copied under its own name (the loader matches imports by module name) into a folder of this generation.
        string? copies = OperatingSystem.IsWindows() ? Path.Combine(shadows.Path, $"g{generation}.deps") : null;
        try
        {
            foreach (string path in found)
            {
                string name = Path.GetFileName(path);
                string? hash = HashOf(path);
                string load = path;
                nint handle;
                try
                {
                    if (copies is not null)
                    {
                        Directory.CreateDirectory(copies);
                        load = Path.Combine(copies, name);
                        File.Copy(path, load, overwrite: false);
                    }

                    handle = NativeLibrary.Load(load);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new LibraryLoadException(candidate.FilePath, ReloadFailureReason.IoError,
                        $"cannot copy its dependency {path} to {copies}: {e.Message}", e);
                }
                catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
                {
                    throw new LibraryLoadException(candidate.FilePath, ReloadFailureReason.LoaderRejected,
                        $"its dependency {path} could not be loaded: {e.Message.ReplaceLineEndings(" ").Trim()}", e);
                }

                held.Add((name, handle));
                long? staleSince = Track(name, hash, generation);
                if (staleSince is { } since)
                {
                    DependencyLog.StaleDependency(logger, name, library, since);
                }
                else
                {
                    DependencyLog.Preloaded(logger, name, Path.GetDirectoryName(path) ?? ".", generation, library);
                }
            }

            return new PreloadedDependencies(held, copies);
        }
        catch
        {
            new PreloadedDependencies(held, copies).Free();
            throw;
        }
    }

    /// <summary>Full paths of the dependencies that only the original's folder provides, in the order to load them.</summary>
    internal static List<string> Resolve(CandidateFile candidate)
    {
        string origin = Path.GetDirectoryName(Path.GetFullPath(candidate.FilePath)) ?? ".";
        var found = new List<string>();
        if (OperatingSystem.IsWindows())
        {
            AddPeImportsBeside(candidate.Content, origin, found, new HashSet<string>(StringComparer.OrdinalIgnoreCase));
            return found;
        }

        if (OperatingSystem.IsMacOS())
        {
            return found;
        }

        NativeDependencies dependencies = ElfDependencies.Read(candidate.Content);
        foreach (string name in dependencies.Needed)
        {
            if (name.Contains('/', StringComparison.Ordinal))
            {
                continue; // a path: the loader opens exactly that, wherever the copy is
            }

            // The first folder that has it wins, as for the loader; only an $ORIGIN folder differs for the copy.
            foreach (string folder in dependencies.SearchFolders)
            {
                bool fromOrigin = folder.Contains("$ORIGIN", StringComparison.Ordinal) || folder.Contains("${ORIGIN}", StringComparison.Ordinal);
                string expanded = folder.Replace("${ORIGIN}", origin, StringComparison.Ordinal).Replace("$ORIGIN", origin, StringComparison.Ordinal);
                if (expanded.Contains('$', StringComparison.Ordinal))
                {
                    continue; // $LIB, $PLATFORM: left to the loader
                }

                string path = Path.Combine(expanded, name);
                if (File.Exists(path))
                {
                    if (fromOrigin)
                    {
                        found.Add(Path.GetFullPath(path));
                    }

                    break;
                }
            }
        }

        return found;
    }

    /// <summary>Adds the imports of a PE image found in <paramref name="origin"/>, each after its own such imports.</summary>
    private static void AddPeImportsBeside(byte[] image, string origin, List<string> found, HashSet<string> seen)
    {
        foreach (string name in PeImports.Read(image).Needed)
        {
            string path = Path.Combine(origin, name);
            if (!seen.Add(name) || !File.Exists(path))
            {
                continue;
            }

            try
            {
                AddPeImportsBeside(File.ReadAllBytes(path), origin, found, seen);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Unreadable: the load of the dependency itself reports it.
            }

            found.Add(path);
        }
    }

    /// <summary>
    /// On Windows, whose loader does not name the module it misses: the image's imports that are neither beside the
    /// original, nor in the system folder, nor on PATH ("" when all are, or elsewhere).
    /// </summary>
    internal static string DescribeMissing(CandidateFile candidate)
    {
        if (!OperatingSystem.IsWindows())
        {
            return string.Empty;
        }

        string origin = Path.GetDirectoryName(Path.GetFullPath(candidate.FilePath)) ?? ".";
        string[] folders = [origin, Environment.SystemDirectory, .. (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries)];
        var missing = PeImports.Read(candidate.Content).Needed
            .Where(name => !name.StartsWith("api-ms-", StringComparison.OrdinalIgnoreCase) && !name.StartsWith("ext-ms-", StringComparison.OrdinalIgnoreCase))
            .Where(name => !folders.Any(folder => File.Exists(Path.Combine(folder, name))))
            .ToList();
        return missing.Count == 0 ? string.Empty : $" (not found beside it, in the system folder or on PATH: {string.Join(", ", missing)})";
    }

    /// <summary>Counts one more holder of the dependency; returns the generation whose copy is still loaded when the file changed since.</summary>
    private static long? Track(string name, string? hash, long generation)
    {
        lock (s_lock)
        {
            if (!s_loaded.TryGetValue(name, out LoadedDependency? loaded))
            {
                s_loaded[name] = new LoadedDependency(hash, generation) { Holders = 1 };
                return null;
            }

            loaded.Holders++;
            return hash is not null && loaded.Hash is not null && !string.Equals(hash, loaded.Hash, StringComparison.Ordinal) ? loaded.Generation : null;
        }
    }

    /// <summary>One holder fewer; forgets the dependency when none is left (the loader has unloaded it then).</summary>
    internal static void Release(string name)
    {
        lock (s_lock)
        {
            if (s_loaded.TryGetValue(name, out LoadedDependency? loaded) && --loaded.Holders <= 0)
            {
                s_loaded.Remove(name);
            }
        }
    }

    private static string? HashOf(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private sealed class LoadedDependency(string? hash, long generation)
    {
        public string? Hash { get; } = hash;

        public long Generation { get; } = generation;

        public int Holders { get; set; }
    }
}
