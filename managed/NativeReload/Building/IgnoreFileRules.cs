using MAB.DotIgnore;

namespace NativeReload.Building;

/// <summary>
/// The <c>.gitignore</c> and <c>.ignore</c> files of a source tree, applied as git does (the way watchexec and
/// cargo-watch honour them): each file's patterns are relative to its folder, a deeper file overrides a shallower one,
/// the last matching line of a file wins (<c>!</c> re-includes), and nothing inside an ignored folder comes back.
/// Files in the folders above the tree up to the repository root (the folder holding <c>.git</c>) apply too.
/// </summary>
internal sealed class IgnoreFileRules
{
    private static readonly HashSet<string> NotSearched = new(StringComparer.Ordinal)
    {
        ".git", ".hg", ".svn", ".jj", "node_modules", ".cache",
    };

    private readonly string _root;
    private volatile (string Directory, string File, IgnoreRule[] Rules)[] _files = [];

    public IgnoreFileRules(string root)
    {
        _root = root;
        Reload();
    }

    /// <summary>The ignore files found, absolute paths.</summary>
    public IReadOnlyList<string> Files => [.. _files.Select(f => f.File)];

    public void Reload()
    {
        var found = new List<(string, string, IgnoreRule[])>();
        foreach (string directory in AncestorsUpToRepository())
        {
            Add(found, directory);
        }

        var pending = new Stack<string>();
        pending.Push(_root);
        while (pending.Count > 0)
        {
            string directory = pending.Pop();
            Add(found, directory);
            try
            {
                foreach (string sub in Directory.EnumerateDirectories(directory))
                {
                    if (!NotSearched.Contains(Path.GetFileName(sub)) && !File.Exists(Path.Combine(sub, "CACHEDIR.TAG"))
                        && (File.GetAttributes(sub) & FileAttributes.ReparsePoint) == 0)
                    {
                        pending.Push(sub);
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // an unreadable or vanished folder holds no rules we can read
            }
        }

        // Deepest first: a deeper file overrides a shallower one.
        _files = [.. found.OrderByDescending(f => f.Item1.Length)];
    }

    /// <summary>The rule that ignores <paramref name="full"/> (or one of its folders inside the tree), or null.</summary>
    public string? Match(string full, bool isDirectory)
    {
        var files = _files;
        if (files.Length == 0)
        {
            return null;
        }

        string[] parts = Path.GetRelativePath(_root, full).Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        string level = _root;
        for (int depth = 0; depth < parts.Length; depth++)
        {
            level = Path.Combine(level, parts[depth]);
            bool levelIsDirectory = depth < parts.Length - 1 || isDirectory;
            if (Decide(files, level, levelIsDirectory) is { } rule)
            {
                return rule;
            }
        }

        return null;
    }

    private static string? Decide((string Directory, string File, IgnoreRule[] Rules)[] files, string path, bool isDirectory)
    {
        foreach ((string directory, string file, IgnoreRule[] rules) in files)
        {
            if (!path.StartsWith(directory + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                continue;
            }

            string relative = Path.GetRelativePath(directory, path).Replace(Path.DirectorySeparatorChar, '/');
            for (int i = rules.Length - 1; i >= 0; i--)
            {
                if (rules[i].IsMatch(relative, isDirectory))
                {
                    return rules[i].PatternFlags.HasFlag(PatternFlags.NEGATION) ? null : $"{Path.GetFileName(file)} rule '{rules[i]}' ({file})";
                }
            }
        }

        return null;
    }

    private IEnumerable<string> AncestorsUpToRepository()
    {
        if (Directory.Exists(Path.Combine(_root, ".git")) || File.Exists(Path.Combine(_root, ".git")))
        {
            yield break;
        }

        var above = new List<string>();
        for (DirectoryInfo? dir = Directory.GetParent(_root); dir is not null; dir = dir.Parent)
        {
            above.Add(dir.FullName);
            if (Directory.Exists(Path.Combine(dir.FullName, ".git")) || File.Exists(Path.Combine(dir.FullName, ".git")))
            {
                foreach (string directory in above)
                {
                    yield return directory;
                }

                yield break;
            }
        }
    }

    private static void Add(List<(string, string, IgnoreRule[])> found, string directory)
    {
        foreach (string name in new[] { ".gitignore", ".ignore" })
        {
            string file = Path.Combine(directory, name);
            if (!File.Exists(file))
            {
                continue;
            }

            try
            {
                found.Add((Path.TrimEndingDirectorySeparator(directory), file, [.. new IgnoreList(file).Rules]));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                // unreadable: its rules cannot apply; the start line lists the files that do
            }
        }
    }
}
