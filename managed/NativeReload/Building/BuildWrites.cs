using System.Security.Cryptography;

namespace NativeReload.Building;

/// <summary>
/// Tells a build's own writes inside the source tree (a generated header, <c>compile_commands.json</c>, <c>Cargo.lock</c>)
/// from a user's saves made while it ran, so a build that writes into its sources does not rebuild itself in a loop.
/// </summary>
/// <remarks>
/// The content of every watched file is hashed (SHA-256; files over 1 MiB: length and write time) at start and again before each build for the files changed since. A file
/// that changed while a build ran is the build's own write when, after the build,
/// <list type="number">
/// <item>its content equals what it held before the build (rewritten identically, or created and removed again); or</item>
/// <item>it did not exist before the build (the build created it); from then on it is known as written by builds, and its
/// changes during later builds are the builds' too, until it is changed while no build runs; or</item>
/// <item>it is what started this build (it changed during the previous one) and it changed again during this one, with
/// nothing else changed in between: every build rewrites it (a time stamp), so it is known as written by builds.</item>
/// </list>
/// Any other change during a build is a save: it queues one more build. The cost of rules 2 and 3: a new file created
/// while a build runs, or a file saved during two builds in a row that the first of them started, is taken for build
/// output until it is saved again while no build runs (then it builds). Changes while no build runs always count.
/// Not thread-safe: the scheduler serialises calls.
/// </remarks>
internal sealed class BuildWrites
{
    private const long LargeFile = 1 << 20;

    private readonly Dictionary<string, string?> _before = new(StringComparer.Ordinal);
    private readonly HashSet<string> _writtenByBuilds = new(StringComparer.Ordinal);
    private readonly HashSet<string> _changedSinceLastBuild = new(StringComparer.Ordinal);
    private readonly HashSet<string> _changedDuringBuild = new(StringComparer.Ordinal);
    private HashSet<string> _savedDuringLastBuild = new(StringComparer.Ordinal);
    private HashSet<string> _startedThisBuild = new(StringComparer.Ordinal);

    public BuildWrites(IEnumerable<string> files)
    {
        foreach (string file in files)
        {
            _before[file] = Hash(file);
        }
    }

    /// <summary>True while a build runs (between <see cref="BuildStarting"/> and <see cref="BuildEnded"/>).</summary>
    public bool Building { get; private set; }

    /// <summary>A relevant change while no build runs: it counts, and the file is the user's again.</summary>
    public void ChangedWhileIdle(string path)
    {
        _writtenByBuilds.Remove(path);
        _changedSinceLastBuild.Add(path);
        _savedDuringLastBuild.Clear(); // the next build is not started by the last build's writes alone
    }

    public void ChangedDuringBuild(string path) => _changedDuringBuild.Add(path);

    public void BuildStarting()
    {
        foreach (string path in _changedSinceLastBuild)
        {
            _before[path] = Hash(path);
        }

        _changedSinceLastBuild.Clear();
        _startedThisBuild = _savedDuringLastBuild;
        _savedDuringLastBuild = new HashSet<string>(StringComparer.Ordinal);
        _changedDuringBuild.Clear();
        Building = true;
    }

    /// <summary>Sorts the changes made during the build: each with the reason it was the build's own write, or null for a save.</summary>
    public IReadOnlyList<(string Path, string? BuildsOwn)> BuildEnded()
    {
        Building = false;
        var sorted = new List<(string, string?)>();
        foreach (string path in _changedDuringBuild)
        {
            _before.TryGetValue(path, out string? before);
            string? now = Hash(path);
            _before[path] = now;
            string? reason;
            if (now == before)
            {
                reason = now is null ? "created and removed by the build" : "rewritten by the build with the same content";
            }
            else if (before is null && now is not null)
            {
                _writtenByBuilds.Add(path);
                reason = "created by the build";
            }
            else if (_writtenByBuilds.Contains(path))
            {
                reason = "written by every build (it was created by one)";
            }
            else if (_startedThisBuild.Contains(path))
            {
                _writtenByBuilds.Add(path);
                reason = "rewritten by every build (it changed during the last build and again during this one)";
            }
            else
            {
                reason = null;
                _savedDuringLastBuild.Add(path);
            }

            sorted.Add((path, reason));
        }

        _changedDuringBuild.Clear();
        return sorted;
    }

    /// <summary>
    /// The files among <paramref name="files"/> (a fresh scan) whose content is not what was last seen, and the known
    /// files missing from it: what changed when the watcher lost events.
    /// </summary>
    public IReadOnlyList<string> Differing(IReadOnlyList<string> files)
    {
        var differing = new List<string>();
        var present = new HashSet<string>(files, StringComparer.Ordinal);
        foreach (string file in files)
        {
            if (!_before.TryGetValue(file, out string? before) || before != Hash(file))
            {
                differing.Add(file);
            }
        }

        differing.AddRange(_before.Where(known => known.Value is not null && !present.Contains(known.Key)).Select(known => known.Key));
        return differing;
    }

    /// <summary>
    /// The content's hash, or null when the file is absent or unreadable (a folder counts as absent). Files over 1 MiB are
    /// not sources anyone types: their length and write time stand in, so a start on a tree with large assets stays quick.
    /// </summary>
    private static string? Hash(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return stream.Length > LargeFile
                ? $"{stream.Length}:{File.GetLastWriteTimeUtc(path).Ticks}"
                : Convert.ToHexString(SHA256.HashData(stream));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
