namespace NativeReload.Building;

/// <summary>What a source tree holds at the start of <c>watch</c>: the files whose change would start a build, and what is ignored.</summary>
/// <param name="Files">The files whose change starts a build, absolute paths.</param>
/// <param name="Ignored">Short labels of what was ignored, most frequent first (<c>build/</c>, <c>*.o</c>, <c>libgreet.so</c>).</param>
/// <param name="IgnoredCount">How many files and folders were ignored (a folder counts once, not its contents).</param>
public sealed record SourceTreeScan(IReadOnlyList<string> Files, IReadOnlyList<string> Ignored, int IgnoredCount)
{
    /// <summary>Walks <paramref name="filter"/>'s tree, not descending into ignored folders.</summary>
    /// <param name="filter">Decides what counts.</param>
    /// <param name="onIgnored">Receives each ignored file or folder with the rule that ignored it.</param>
    /// <param name="root">A folder inside the tree to walk instead of the whole tree.</param>
    public static SourceTreeScan Run(SourceChangeFilter filter, Action<string, string>? onIgnored = null, string? root = null)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var files = new List<string>();
        var labels = new Dictionary<string, int>(StringComparer.Ordinal);
        int ignoredCount = 0;
        var pending = new Stack<string>();
        pending.Push(root ?? filter.Root);
        while (pending.Count > 0)
        {
            string directory = pending.Pop();
            IEnumerable<string> entries;
            try
            {
                entries = Directory.EnumerateFileSystemEntries(directory).ToList();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // vanished or unreadable: nothing in it can be watched either
            }

            foreach (string entry in entries)
            {
                bool isDirectory = Directory.Exists(entry);
                string? why = filter.WhyIgnored(entry, isDirectory);
                if (isDirectory && ReferenceEquals(why, SourceChangeFilter.FolderItself))
                {
                    if ((File.GetAttributes(entry) & FileAttributes.ReparsePoint) == 0)
                    {
                        pending.Push(entry);
                    }

                    continue;
                }

                if (why is null)
                {
                    files.Add(entry);
                    continue;
                }

                ignoredCount++;
                onIgnored?.Invoke(entry, why);
                if (!ReferenceEquals(why, SourceChangeFilter.IgnoreRulesFile))
                {
                    string label = Label(filter, entry, isDirectory, why);
                    labels[label] = labels.GetValueOrDefault(label) + 1;
                }
            }
        }

        return new SourceTreeScan(files, [.. labels.OrderByDescending(l => l.Value).ThenBy(l => l.Key, StringComparer.Ordinal).Select(l => l.Key)], ignoredCount);
    }

    /// <summary>One line for the start of <c>watch</c>: <c>watching src/ (12 files; ignoring build/, *.o, .gitignore rules)</c>.</summary>
    /// <param name="shownRoot">The source folder as the user wrote it.</param>
    /// <param name="filter">The filter the scan used (for its rule files and globs).</param>
    public string Describe(string shownRoot, SourceChangeFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var ignoring = new List<string>(Ignored.Take(6));
        if (Ignored.Count > 6)
        {
            ignoring.Add("…");
        }

        if (UnlistedLibrary(filter) is { } library)
        {
            ignoring.Insert(0, library); // named even before its first build, when it sits among the sources
        }

        if (filter.IgnoreFiles.Count > 0)
        {
            ignoring.Add(string.Join(", ", filter.IgnoreFiles.Select(Path.GetFileName).Distinct()) + " rules");
        }

        foreach (string glob in filter.IgnoreGlobs.Where(g => !ignoring.Contains(g)))
        {
            ignoring.Add(glob);
        }

        string root = shownRoot.EndsWith('/') || shownRoot.EndsWith(Path.DirectorySeparatorChar) ? shownRoot : shownRoot + "/";
        string count = Files.Count == 1 ? "1 file" : $"{Files.Count} files";
        return ignoring.Count == 0 ? $"watching {root} ({count})" : $"watching {root} ({count}; ignoring {string.Join(", ", ignoring)})";
    }

    /// <summary>The library's path relative to the tree when it sits in the tree and no listed folder holds it.</summary>
    private string? UnlistedLibrary(SourceChangeFilter filter)
    {
        if (filter.LibraryPath is null)
        {
            return null;
        }

        string relative = Path.GetRelativePath(filter.Root, filter.LibraryPath).Replace(Path.DirectorySeparatorChar, '/');
        bool outside = relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative);
        return outside || Ignored.Any(label => label == relative || (label.EndsWith('/') && relative.StartsWith(label, StringComparison.Ordinal)))
            ? null
            : relative;
    }

    private static string Label(SourceChangeFilter filter, string entry, bool isDirectory, string why)
    {
        if (why.StartsWith("--ignore ", StringComparison.Ordinal))
        {
            return why["--ignore ".Length..];
        }

        if (why.StartsWith("build output (", StringComparison.Ordinal))
        {
            return why["build output (".Length..^1];
        }

        string relative = Path.GetRelativePath(filter.Root, entry).Replace(Path.DirectorySeparatorChar, '/');
        return isDirectory ? relative + "/" : relative;
    }
}
