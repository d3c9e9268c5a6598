namespace NativeReload.Building;

/// <summary>
/// Decides which file changes under a source tree should trigger a build: not the build's own output, not
/// version-control internals, not the temporary files editors write while saving.
/// </summary>
public sealed class SourceChangeFilter
{
    private static readonly HashSet<string> IgnoredDirectories = new(StringComparer.OrdinalIgnoreCase)
    {
        ".git", ".hg", ".svn", ".vs", ".vscode", ".idea", ".cache", "build", "out", "target", "bin", "obj",
        "artifacts", "node_modules", "CMakeFiles", "__pycache__",
    };

    private static readonly HashSet<string> IgnoredExtensions = new(StringComparer.OrdinalIgnoreCase)
    {
        ".o", ".obj", ".a", ".lib", ".so", ".dylib", ".dll", ".exe", ".pdb", ".ilk", ".exp", ".d", ".tmp", ".bak",
        ".swp", ".swx", ".swo", ".orig", ".rej", ".log",
    };

    private readonly string _root;
    private readonly string[] _ignoredPaths;

    /// <summary>Creates a filter for the tree at <paramref name="root"/>.</summary>
    /// <param name="root">The source directory being watched.</param>
    /// <param name="ignoredPaths">Further files or directories to ignore, e.g. the library's output directory.</param>
    public SourceChangeFilter(string root, IEnumerable<string>? ignoredPaths = null)
    {
        _root = Path.GetFullPath(root);
        _ignoredPaths = (ignoredPaths ?? []).Select(p => Path.TrimEndingDirectorySeparator(Path.GetFullPath(p))).ToArray();
    }

    /// <summary>True when a change to <paramref name="path"/> should cause a build.</summary>
    /// <param name="path">A changed file, absolute or relative to the current directory.</param>
    public bool IsRelevant(string path)
    {
        string full = Path.GetFullPath(path);
        foreach (string ignored in _ignoredPaths)
        {
            if (full.Equals(ignored, StringComparison.Ordinal) || full.StartsWith(ignored + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                return false;
            }
        }

        string relative = Path.GetRelativePath(_root, full);
        if (relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative))
        {
            return false;
        }

        // A directory's own change events (its entries changed) are not source changes: the files inside report themselves.
        if (Directory.Exists(full))
        {
            return false;
        }

        string[] parts = relative.Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        for (int i = 0; i < parts.Length; i++)
        {
            if (IgnoredDirectories.Contains(parts[i]) || IsTemporaryTwinOfIgnoredDirectory(parts[i]))
            {
                return false;
            }
        }

        string name = parts[^1];
        return !IsEditorTemporary(name) && !IgnoredExtensions.Contains(Path.GetExtension(name))
            && !name.Equals("CMakeCache.txt", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Cargo creates <c>target</c> atomically: a temporary <c>targetXXXXXX</c> directory renamed to <c>target</c>. By the
    /// time its event is handled the temporary name is gone, so it cannot be recognised as a directory.
    /// </summary>
    private static bool IsTemporaryTwinOfIgnoredDirectory(string name) =>
        name.Length > 6 && IgnoredDirectories.Contains(name[..^6]) && name[^6..].All(char.IsAsciiLetterOrDigit);

    /// <summary>Vim, Emacs, JetBrains and macOS leave these around while saving.</summary>
    private static bool IsEditorTemporary(string name) =>
        name.EndsWith('~')
        || name.StartsWith(".#", StringComparison.Ordinal)
        || (name.StartsWith('#') && name.EndsWith('#'))
        || name == "4913" // vim's write-permission probe
        || name.EndsWith("___jb_tmp___", StringComparison.Ordinal)
        || name.EndsWith("___jb_old___", StringComparison.Ordinal)
        || name == ".DS_Store";
}
