using System.Runtime.Versioning;

namespace NativeReload.ShadowCopying;

/// <summary>Checks and removes one abandoned shadow directory on Windows without ever entering a reparse point.</summary>
/// <remarks>
/// A directory that is itself a reparse point (symbolic link, junction, mount point) is never a candidate; inside an
/// abandoned directory a reparse point is deleted as the link it is (<c>RemoveDirectory</c>/<c>DeleteFile</c> on the
/// link removes the link, not its target) and never recursed into. Unlike the Unix sweep this works by path: the
/// default root (<c>%TEMP%</c>) is private to the user on Windows, so no other user can swap entries in it.
/// </remarks>
[SupportedOSPlatform("windows")]
internal static class WindowsAbandonedDirectory
{
    private const int MaxDepth = 8;

    /// <summary>Removes <paramref name="directory"/> if it is not a reparse point and its lock file can be taken.</summary>
    public static SweepVerdict TryRemove(DirectoryInfo directory, out string reason)
    {
        if ((directory.Attributes & FileAttributes.ReparsePoint) != 0)
        {
            reason = "a reparse point (link or junction), not a directory of ours";
            return SweepVerdict.NotOurs;
        }

        var ownerFile = new FileInfo(Path.Combine(directory.FullName, ShadowCopyDirectory.OwnerFileName));
        if (!ownerFile.Exists || (ownerFile.Attributes & FileAttributes.ReparsePoint) != 0)
        {
            reason = "no lock file; it cannot be proven abandoned";
            return SweepVerdict.NotOurs;
        }

        FileStream ownerLock;
        try
        {
            // A sharing lock: it fails while the owner process has the file open.
            ownerLock = new FileStream(ownerFile.FullName, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            reason = e.Message;
            return SweepVerdict.InUse;
        }

        try
        {
            using (ownerLock)
            {
                RemoveContents(directory, 0, keep: ShadowCopyDirectory.OwnerFileName);
            }

            ownerFile.Delete();
            directory.Delete(recursive: false);
            reason = string.Empty;
            return SweepVerdict.Removed;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            reason = e.Message;
            return SweepVerdict.Failed;
        }
    }

    private static void RemoveContents(DirectoryInfo directory, int depth, string? keep)
    {
        foreach (FileSystemInfo entry in directory.EnumerateFileSystemInfos())
        {
            if (entry.Name == keep)
            {
                continue;
            }

            if ((entry.Attributes & FileAttributes.ReparsePoint) != 0)
            {
                entry.Delete(); // a link or junction: DeleteFile/RemoveDirectory remove the link only, never its target
            }
            else if (entry is FileInfo file)
            {
                file.Attributes &= ~FileAttributes.ReadOnly;
                file.Delete();
            }
            else if (depth + 1 < MaxDepth)
            {
                var subdirectory = (DirectoryInfo)entry;
                RemoveContents(subdirectory, depth + 1, keep: null);
                subdirectory.Delete(recursive: false);
            }
        }
    }
}
