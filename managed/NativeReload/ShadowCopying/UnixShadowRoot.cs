using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace NativeReload.ShadowCopying;

/// <summary>
/// Unix with the descriptor-relative calls of <see cref="UnixDescriptors"/>: directories made with <c>mkdtemp</c>
/// under a staging name and renamed into place already locked; swept and removed with <see cref="UnixAbandonedDirectory"/>,
/// which never follows a link.
/// </summary>
[UnsupportedOSPlatform("windows")]
internal class UnixShadowRoot : ShadowRoot
{
    /// <summary>Prefix of the name a directory has while it is being set up; the sweep never matches it.</summary>
    internal const string StagingPrefix = ".";

    private const UnixFileMode GroupOrOthers = (UnixFileMode)0b000_111_111;

    /// <summary>
    /// mkdtemp under a staging name the sweep never matches, the locked lock file inside, then the rename to the final
    /// name: the directory appears under a sweepable name already locked.
    /// </summary>
    public override (string Path, FileStream OwnerLock) Create(string root)
    {
        // mkdtemp: exclusive creation (never reuses or follows an existing entry), mode 0700 whatever the umask;
        // 64 random bits from us plus mkdtemp's own suffix make the name unguessable.
        string fullRoot = Path.GetFullPath(root);
        string staging = MakeStagingDirectory(
            Path.Combine(fullRoot, $"{StagingPrefix}{ShadowCopyDirectory.DirectoryPrefix}{Environment.ProcessId}-{RandomToken()}"));
        FileStream? ownerLock = null;
        try
        {
            // A filesystem without Unix modes (vfat, some network mounts) shows 0777 whatever mkdtemp asked for:
            // copies there would be writable by other users, so such a root is refused.
            UnixFileMode mode = File.GetUnixFileMode(staging);
            if ((mode & GroupOrOthers) != 0)
            {
                throw new IOException($"it is accessible to other users (mode {Convert.ToString((int)mode, 8)}); choose a root on a filesystem with Unix permissions");
            }

            ownerLock = CreateOwnerLock(staging);
            string path = Path.Combine(fullRoot, Path.GetFileName(staging)[StagingPrefix.Length..]);
            MoveIntoPlace(staging, path);
            return (path, ownerLock);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ownerLock?.Dispose();
            TryDeleteStaging(staging);
            throw new IOException($"{staging}: cannot set up the shadow directory: {e.Message}", e);
        }
    }

    /// <inheritdoc/>
    public override int RemoveAbandoned(string root, ILogger logger)
    {
        using SafeFileHandle? rootHandle = UnixDescriptors.OpenDirectory(root, out _);
        if (rootHandle is null)
        {
            return 0;
        }

        List<string> names;
        try
        {
            names = UnixDescriptors.ReadNames(rootHandle);
        }
        catch (IOException)
        {
            return 0;
        }

        int removed = 0;
        foreach (string name in names)
        {
            if (OwnedName().IsMatch(name))
            {
                SweepVerdict verdict = UnixAbandonedDirectory.TryRemove(rootHandle, name, out string reason);
                removed += Report(logger, Path.Combine(root, name), verdict, reason);
            }
        }

        return removed;
    }

    /// <inheritdoc/>
    public override SweepVerdict TryRemoveReleased(string path, out string reason)
    {
        using SafeFileHandle? rootHandle = UnixDescriptors.OpenDirectory(Path.GetDirectoryName(path)!, out int errno);
        if (rootHandle is null)
        {
            reason = Marshal.GetPInvokeErrorMessage(errno);
            return SweepVerdict.Failed;
        }

        return UnixAbandonedDirectory.TryRemove(rootHandle, Path.GetFileName(path), out reason);
    }

    /// <summary><c>mkdtemp(template + "XXXXXX")</c>; a seam for tests that need a filesystem which ignores modes.</summary>
    protected virtual string MakeStagingDirectory(string templateWithoutSuffix) =>
        UnixDirectories.MakeTemporaryDirectory(templateWithoutSuffix);

    /// <summary><c>rename(2)</c>: atomic; fails rather than replace an existing entry. A seam for tests that need it to fail.</summary>
    protected virtual void MoveIntoPlace(string staging, string path) => Directory.Move(staging, path);

    private static void TryDeleteStaging(string staging)
    {
        try
        {
            File.Delete(Path.Combine(staging, ShadowCopyDirectory.OwnerFileName));
            Directory.Delete(staging, recursive: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // left behind: an empty staging directory, never swept (see ShadowCopyDirectory's remarks)
        }
    }
}

/// <summary>
/// Unix where <see cref="UnixDescriptors"/> has no constants or layouts (32-bit processes, other architectures or
/// systems): directories are made as on every Unix, our own is removed by path at <c>Dispose</c> (it is private to
/// us), and nothing else is swept, rather than guess a layout; that is said once per process, as a warning.
/// </summary>
[UnsupportedOSPlatform("windows")]
internal sealed class UnsweptUnixShadowRoot : UnixShadowRoot
{
    private int _unavailableLogged;

    /// <inheritdoc/>
    public override int RemoveAbandoned(string root, ILogger logger)
    {
        if (Interlocked.Exchange(ref _unavailableLogged, 1) == 0)
        {
            Log.SweepUnavailable(logger, root, UnixDescriptors.UnsupportedReason);
        }

        return 0;
    }

    /// <inheritdoc/>
    public override SweepVerdict TryRemoveReleased(string path, out string reason)
    {
        try
        {
            Directory.Delete(path, recursive: true);
            reason = string.Empty;
            return SweepVerdict.Removed;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            reason = e.Message;
            return SweepVerdict.Failed;
        }
    }
}
