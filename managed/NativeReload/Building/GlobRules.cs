using MAB.DotIgnore;

namespace NativeReload.Building;

/// <summary>The <c>--ignore</c> globs: gitignore syntax, relative to the watched folder; a folder's glob covers what is inside.</summary>
internal sealed class GlobRules
{
    private readonly IgnoreRule[] _rules;

    public GlobRules(IEnumerable<string> patterns)
    {
        Patterns = [.. patterns.Where(p => !string.IsNullOrWhiteSpace(p))];
        _rules = [.. Patterns.Select(p => new IgnoreRule(p.Replace('\\', '/')))];
    }

    public IReadOnlyList<string> Patterns { get; }

    /// <summary>The glob that matches <paramref name="relative"/> (slash-separated) or one of its folders, or null.</summary>
    public string? Match(string relative, bool isDirectory)
    {
        if (_rules.Length == 0)
        {
            return null;
        }

        string[] parts = relative.Split('/');
        for (int depth = 1; depth <= parts.Length; depth++)
        {
            string level = string.Join('/', parts[..depth]);
            bool levelIsDirectory = depth < parts.Length || isDirectory;
            for (int i = 0; i < _rules.Length; i++)
            {
                if (!_rules[i].PatternFlags.HasFlag(PatternFlags.NEGATION) && _rules[i].IsMatch(level, levelIsDirectory))
                {
                    return Patterns[i];
                }
            }
        }

        return null;
    }
}
