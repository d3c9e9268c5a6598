using System.Runtime.Versioning;
using Microsoft.Extensions.Logging;

namespace NativeReload.ShadowCopying;

/// <summary>
/// Windows: a directory under a random name, its <c>.owner</c> created and share-locked in one <c>CreateFile</c>
/// call (a directory holding an open file cannot be renamed there, so there is no staging step, and no window either);
/// swept by path with <see cref="WindowsAbandonedDirectory"/>, which never enters a reparse point.
/// </summary>
[SupportedOSPlatform("windows")]
internal sealed class WindowsShadowRoot : ShadowRoot
{
    /// <inheritdoc/>
    public override (string Path, FileStream OwnerLock) Create(string root)
    {
        string prefix = $"{ShadowCopyDirectory.DirectoryPrefix}{Environment.ProcessId}-";
        while (true)
        {
            string path = Path.Combine(root, prefix + RandomToken());
            if (Directory.Exists(path) || File.Exists(path))
            {
                continue; // astronomically unlikely; never reuse a name someone else made
            }

            string created = Directory.CreateDirectory(path).FullName;
            return (created, CreateOwnerLock(created));
        }
    }

    /// <inheritdoc/>
    public override int RemoveAbandoned(string root, ILogger logger)
    {
        IEnumerable<DirectoryInfo> candidates;
        try
        {
            candidates = new DirectoryInfo(root).EnumerateDirectories(ShadowCopyDirectory.DirectoryPrefix + "*").ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }

        int removed = 0;
        foreach (DirectoryInfo directory in candidates)
        {
            if (OwnedName().IsMatch(directory.Name))
            {
                SweepVerdict verdict = WindowsAbandonedDirectory.TryRemove(directory, out string reason);
                removed += Report(logger, directory.FullName, verdict, reason);
            }
        }

        return removed;
    }

    /// <inheritdoc/>
    public override SweepVerdict TryRemoveReleased(string path, out string reason) =>
        WindowsAbandonedDirectory.TryRemove(new DirectoryInfo(path), out reason);
}
