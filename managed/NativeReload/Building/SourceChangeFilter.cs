namespace NativeReload.Building;

/// <summary>
/// Decides which file changes under a source tree should trigger a build, by what a file is rather than where it
/// sits: not the library itself, not what builds write (object files, archives, libraries; folders that carry a
/// build system's marker), not what the tree's <c>.gitignore</c>/<c>.ignore</c> files or <c>--ignore</c> globs
/// exclude, not version-control internals, not the temporary files editors write while saving.
/// </summary>
/// <remarks>
/// Folder names alone never exclude anything (a source folder may well be called <c>build</c>, <c>bin</c>, <c>out</c>
/// or <c>target</c>). Every answer names its rule so a user can see why a change did not start a build.
/// </remarks>
public sealed class SourceChangeFilter
{
    /// <summary>Version-control and editor/tool state: never sources, and some tools write there constantly (clangd's .cache).</summary>
    private static readonly Dictionary<string, string> StateDirectories = new(StringComparer.Ordinal)
    {
        [".git"] = "version control", [".hg"] = "version control", [".svn"] = "version control", [".jj"] = "version control",
        [".bzr"] = "version control", ["_darcs"] = "version control",
        [".vs"] = "editor state", [".idea"] = "editor state", [".vscode"] = "editor state",
        [".cache"] = "tool cache (clangd)", [".ccls-cache"] = "tool cache (ccls)", ["__pycache__"] = "tool cache (python)",
    };

    /// <summary>Files only compilers, linkers and archivers write.</summary>
    private static readonly HashSet<string> OutputExtensions = new(StringComparer.OrdinalIgnoreCase)
    {
        ".o", ".obj", ".a", ".lib", ".so", ".dylib", ".dll", ".exe", ".pdb", ".ilk", ".exp", ".d", ".lo", ".la",
        ".rlib", ".rmeta", ".gch", ".pch", ".dwo", ".gcno", ".gcda",
    };

    /// <summary>Files whose presence makes their folder a build folder (CMake, Ninja, cargo and the CACHEDIR.TAG convention).</summary>
    private static readonly string[] MarkerFiles = ["CMakeCache.txt", "CACHEDIR.TAG", ".ninja_log", ".rustc_info.json"];

    /// <summary>A folder holding one of these is also a source folder: a marker there means an in-source build.</summary>
    private static readonly string[] ProjectFiles = ["CMakeLists.txt", "Cargo.toml", "meson.build", "configure.ac", "Makefile.am"];

    /// <summary>What CMake and Ninja generate in an in-source build folder (the sources around them stay watched).</summary>
    private static readonly HashSet<string> InSourceGenerated = new(StringComparer.Ordinal)
    {
        "CMakeFiles", "CMakeCache.txt", "cmake_install.cmake", "Makefile", "build.ninja", ".ninja_log", ".ninja_deps",
        "compile_commands.json", "CTestTestfile.cmake", "install_manifest.txt", "CPackConfig.cmake", "CPackSourceConfig.cmake",
        "_deps", "Testing", "CACHEDIR.TAG", ".rustc_info.json",
    };

    /// <summary>The answer for a folder that no rule ignores: its own events do not count, the files in it report themselves.</summary>
    internal const string FolderItself = "a folder (its files report their own changes)";

    /// <summary>The answer for a <c>.gitignore</c>/<c>.ignore</c> file: its rules are re-read, it is not a source.</summary>
    internal const string IgnoreRulesFile = "ignore rules (re-read when they change)";

    private readonly string _root;
    private readonly string? _library;
    private readonly GlobRules _globs;
    private readonly IgnoreFileRules _ignoreFiles;

    /// <summary>Creates a filter for the tree at <paramref name="root"/>.</summary>
    /// <param name="root">The source directory being watched.</param>
    /// <param name="libraryPath">The library the build writes (ignored wherever it sits), or null.</param>
    /// <param name="ignoreGlobs">Further gitignore-style globs, relative to <paramref name="root"/> (<c>--ignore</c>).</param>
    public SourceChangeFilter(string root, string? libraryPath = null, IEnumerable<string>? ignoreGlobs = null)
    {
        _root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        _library = libraryPath is null ? null : Path.GetFullPath(libraryPath);
        _globs = new GlobRules(ignoreGlobs ?? []);
        _ignoreFiles = new IgnoreFileRules(_root);
    }

    /// <summary>The watched directory, absolute.</summary>
    public string Root => _root;

    /// <summary>The library the build writes, absolute, or null.</summary>
    public string? LibraryPath => _library;

    /// <summary>The <c>--ignore</c> globs, as given.</summary>
    public IReadOnlyList<string> IgnoreGlobs => _globs.Patterns;

    /// <summary>The <c>.gitignore</c> and <c>.ignore</c> files whose rules apply (absolute paths).</summary>
    public IReadOnlyList<string> IgnoreFiles => _ignoreFiles.Files;

    /// <summary>True when a change to <paramref name="path"/> should cause a build.</summary>
    /// <param name="path">A changed file, absolute or relative to the current directory.</param>
    public bool IsRelevant(string path) => WhyIgnored(path) is null;

    /// <summary>Why a change to <paramref name="path"/> does not count (the rule, in words), or null when it does.</summary>
    /// <param name="path">A changed file or folder, absolute or relative to the current directory.</param>
    /// <param name="isDirectory">Whether it is a folder; null: look at the disk.</param>
    public string? WhyIgnored(string path, bool? isDirectory = null)
    {
        string full = Path.GetFullPath(path);
        string relative = Path.GetRelativePath(_root, full);
        if (relative == "." || relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative))
        {
            return relative == "." ? "the watched folder itself" : "outside the watched folder";
        }

        string[] parts = relative.Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        foreach (string part in parts)
        {
            if (StateDirectories.TryGetValue(part, out string? what))
            {
                return $"{what} ({part}/)";
            }
        }

        if (_library is not null && full.Equals(_library, StringComparison.Ordinal))
        {
            return "the library itself";
        }

        string name = parts[^1];
        if (IsEditorTemporary(name))
        {
            return "editor temporary file";
        }

        bool directory = isDirectory ?? Directory.Exists(full);
        if (!directory && IsIgnoreFile(name))
        {
            return IgnoreRulesFile;
        }

        string relativeSlashed = string.Join('/', parts);
        if (_globs.Match(relativeSlashed, directory) is { } glob)
        {
            return $"--ignore {glob}";
        }

        if (BuildFolderRule(_root, parts, directory) is { } buildFolder)
        {
            return buildFolder;
        }

        if (!directory && OutputExtension(name) is { } extension)
        {
            return $"build output (*{extension})";
        }

        if (Array.IndexOf(MarkerFiles, name) >= 0)
        {
            return $"build-system marker ({name})";
        }

        if (IsCargoTemporaryTarget(parts))
        {
            return "cargo's temporary target folder";
        }

        if (_ignoreFiles.Match(full, directory) is { } ignoreRule)
        {
            return ignoreRule;
        }

        // A folder's own change events (its entries changed) are not source changes: the files inside report themselves.
        return directory ? FolderItself : null;
    }

    /// <summary>Re-reads the <c>.gitignore</c>/<c>.ignore</c> files (one of them changed).</summary>
    public void ReloadIgnoreFiles() => _ignoreFiles.Reload();

    /// <summary>True for the ignore files whose rules this filter applies (a change to one reloads the rules).</summary>
    /// <param name="path">A changed file.</param>
    public static bool IsIgnoreFile(string path) => Path.GetFileName(path) is ".gitignore" or ".ignore";

    /// <summary>
    /// A folder below the root holding a build-system marker and no project file is a build folder: everything in it is
    /// output. A folder holding both (<c>cmake -S . -B .</c>) is an in-source build: only what the build system generates there is.
    /// </summary>
    private static string? BuildFolderRule(string root, string[] parts, bool isDirectory)
    {
        string directory = root;
        int last = isDirectory ? parts.Length : parts.Length - 1; // a folder is looked at itself, too
        for (int depth = 0; depth <= last; depth++)
        {
            if (HasMarker(directory) is { } marker)
            {
                string shown = depth == 0 ? "./" : string.Join('/', parts[..depth]) + "/";
                if (depth > 0 && !HasProjectFile(directory))
                {
                    return depth == parts.Length ? $"build folder (it holds {marker})" : $"inside build folder {shown} (it holds {marker})";
                }

                if (depth < parts.Length && InSourceGenerated.Contains(parts[depth]))
                {
                    return $"generated by the in-source build in {shown} (it holds {marker})";
                }
            }

            if (depth < parts.Length)
            {
                directory = Path.Combine(directory, parts[depth]);
            }
        }

        return null;
    }

    private static string? HasMarker(string directory)
    {
        foreach (string marker in MarkerFiles)
        {
            if (File.Exists(Path.Combine(directory, marker)))
            {
                return marker;
            }
        }

        return Directory.Exists(Path.Combine(directory, "CMakeFiles")) ? "CMakeFiles/" : null;
    }

    private static bool HasProjectFile(string directory) => ProjectFiles.Any(file => File.Exists(Path.Combine(directory, file)));

    /// <summary>The output extension of <paramref name="name"/>, including versioned libraries (<c>libz.so.1.3</c>).</summary>
    private static string? OutputExtension(string name)
    {
        string extension = Path.GetExtension(name);
        if (OutputExtensions.Contains(extension))
        {
            return extension;
        }

        int so = name.IndexOf(".so.", StringComparison.Ordinal);
        return so > 0 && name[(so + 4)..].All(c => char.IsAsciiDigit(c) || c == '.') ? ".so.N" : null;
    }

    /// <summary>
    /// Cargo creates <c>target</c> atomically: a temporary <c>targetXXXXXX</c> folder next to Cargo.toml, renamed to
    /// <c>target</c>. By the time its event is handled the temporary name is gone, so it cannot be looked at.
    /// </summary>
    private bool IsCargoTemporaryTarget(string[] parts)
    {
        for (int i = 0; i < parts.Length; i++)
        {
            string name = parts[i];
            if (name.Length == 12 && name.StartsWith("target", StringComparison.Ordinal) && name[6..].All(char.IsAsciiLetterOrDigit)
                && File.Exists(Path.Combine(_root, Path.Combine(parts[..i]), "Cargo.toml")))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Vim, Emacs, JetBrains and macOS leave these around while saving.</summary>
    private static bool IsEditorTemporary(string name) =>
        name.EndsWith('~')
        || name.StartsWith(".#", StringComparison.Ordinal)
        || (name.StartsWith('#') && name.EndsWith('#'))
        || name == "4913" // vim's write-permission probe
        || name.EndsWith(".swp", StringComparison.Ordinal) || name.EndsWith(".swx", StringComparison.Ordinal) || name.EndsWith(".swo", StringComparison.Ordinal)
        || name.EndsWith(".tmp", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".bak", StringComparison.OrdinalIgnoreCase)
        || name.EndsWith(".orig", StringComparison.Ordinal) || name.EndsWith(".rej", StringComparison.Ordinal)
        || name.EndsWith("___jb_tmp___", StringComparison.Ordinal)
        || name.EndsWith("___jb_old___", StringComparison.Ordinal)
        || name == ".DS_Store";
}
