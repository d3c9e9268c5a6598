using Microsoft.Win32.SafeHandles;

namespace NativeReload.ShadowCopying;

/// <summary>What the sweep did with one candidate directory.</summary>
internal enum SweepVerdict
{
    /// <summary>It was ours and abandoned, and it is gone.</summary>
    Removed,

    /// <summary>Its lock file is held: a live process uses it.</summary>
    InUse,

    /// <summary>Not provably ours (a link, another owner, another mode, no lock file): left untouched.</summary>
    NotOurs,

    /// <summary>Ours and abandoned, but something in it could not be removed; the reason says what.</summary>
    Failed,
}

/// <summary>
/// Checks and removes one abandoned shadow directory on Unix with descriptor-relative calls only, so that no symbolic
/// link, planted before or swapped in during the sweep, is ever followed.
/// </summary>
/// <remarks>
/// The directory is opened once, relative to the root's descriptor, with <c>O_NOFOLLOW|O_DIRECTORY</c>, and the open
/// descriptor (not the path) must show: a directory, owned by our effective uid, mode exactly 0700 (what
/// <c>mkdtemp</c> made). Its <c>.owner</c> must be a regular file of ours whose <c>flock</c> we can take. From then
/// on every entry is removed with <c>unlinkat</c> relative to that descriptor (which removes a link, never its
/// target); a subdirectory is entered only through <c>openat(O_NOFOLLOW|O_DIRECTORY)</c> and its own ownership check,
/// so an entry swapped for a link between listing and removal is unlinked as a link. The lock file is removed last,
/// so a sweep that dies half-way leaves a directory the next sweep still recognises.
/// </remarks>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal static class UnixAbandonedDirectory
{
    private const int MaxDepth = 8; // our directories hold only files; a deep tree is not ours to walk
    private const int OwnerOnlyDirectory = 0x1C0; // 0700

    // TryGetOwnerAndMode refuses when the platform's stat fails or its mode differs from .NET's (a layout this code got
    // wrong): say that, not the zeroes or the misread values it leaves behind.
    private const string UnreadableOwner = "its owner and mode cannot be read reliably (stat failed, or disagrees with .NET's)";

    /// <summary>Removes <c>root/name</c> if it is our abandoned shadow directory.</summary>
    /// <param name="root">An open descriptor of the shadow root.</param>
    /// <param name="name">The entry's name in the root (already matched against our naming).</param>
    /// <param name="reason">Why it was left, for the log.</param>
    public static SweepVerdict TryRemove(SafeFileHandle root, string name, out string reason)
    {
        uint me = UnixDescriptors.EffectiveUserId();
        using SafeFileHandle? directory = UnixDescriptors.OpenSubdirectory(root, name, out int errno);
        if (directory is null)
        {
            reason = errno == UnixDescriptors.ELOOP || errno == UnixDescriptors.ENOTDIR
                ? "not a directory (a symbolic link or a file)"
                : $"cannot open it ({Describe(errno)})";
            return SweepVerdict.NotOurs;
        }

        if (!UnixDescriptors.TryGetOwnerAndMode(directory, out uint uid, out int mode))
        {
            reason = UnreadableOwner;
            return SweepVerdict.NotOurs;
        }

        if (!UnixDescriptors.IsDirectory(mode) || uid != me || (mode & 0xFFF) != OwnerOnlyDirectory)
        {
            reason = $"owner uid {uid}, mode {Convert.ToString(mode & 0xFFF, 8)}: only directories of uid {me} with mode 700 are ours";
            return SweepVerdict.NotOurs;
        }

        using SafeFileHandle? owner = UnixDescriptors.OpenFile(directory, ShadowCopyDirectory.OwnerFileName, out errno);
        if (owner is null)
        {
            reason = $"no lock file ({Describe(errno)}); it cannot be proven abandoned";
            return SweepVerdict.NotOurs;
        }

        if (!UnixDescriptors.TryGetOwnerAndMode(owner, out uid, out mode) || !UnixDescriptors.IsRegularFile(mode) || uid != me)
        {
            reason = "its lock file is not a regular file of ours";
            return SweepVerdict.NotOurs;
        }

        errno = UnixDescriptors.TryLockExclusive(owner);
        if (errno != 0)
        {
            reason = errno == UnixDescriptors.EWOULDBLOCK ? "in use" : $"cannot lock it ({Describe(errno)})";
            return errno == UnixDescriptors.EWOULDBLOCK ? SweepVerdict.InUse : SweepVerdict.NotOurs;
        }

        // The owner is gone (its lock went with it, even if its pid was reused). Holding the lock, empty the directory.
        string? firstError = RemoveContents(directory, 0, keep: ShadowCopyDirectory.OwnerFileName);
        if (firstError is not null)
        {
            reason = firstError; // the lock file stays: what is left can still be proven abandoned next time
            return SweepVerdict.Failed;
        }

        errno = UnixDescriptors.Unlink(directory, ShadowCopyDirectory.OwnerFileName, removeDirectory: false);
        if (errno is not 0 and not UnixDescriptors.ENOENT)
        {
            firstError = $"{ShadowCopyDirectory.OwnerFileName}: {Describe(errno)}";
        }

        owner.Dispose();

        // rmdir relative to the root: it removes only an empty directory and never follows a link.
        errno = UnixDescriptors.Unlink(root, name, removeDirectory: true);
        if (errno is 0 or UnixDescriptors.ENOENT)
        {
            reason = string.Empty;
            return SweepVerdict.Removed;
        }

        reason = firstError ?? Describe(errno);
        return SweepVerdict.Failed;
    }

    /// <summary>Removes every entry of an open directory except <paramref name="keep"/>; returns the first error, if any.</summary>
    private static string? RemoveContents(SafeFileHandle directory, int depth, string? keep)
    {
        List<string> names;
        try
        {
            names = UnixDescriptors.ReadNames(directory);
        }
        catch (IOException e)
        {
            return e.Message;
        }

        string? firstError = null;
        foreach (string name in names)
        {
            if (name != keep)
            {
                firstError ??= RemoveEntry(directory, name, depth);
            }
        }

        return firstError;
    }

    /// <summary>
    /// Removes one entry: <c>unlinkat</c> first (files, links, anything not a directory), and only when that says
    /// "directory" is it opened without following links, emptied and removed. An entry that turns into a link in
    /// between fails the open with <c>ELOOP</c>/<c>ENOTDIR</c> and is unlinked on the next round.
    /// </summary>
    private static string? RemoveEntry(SafeFileHandle directory, string name, int depth)
    {
        string? error = null;
        for (int attempt = 0; attempt < 4; attempt++)
        {
            int errno = UnixDescriptors.Unlink(directory, name, removeDirectory: false);
            if (errno is 0 or UnixDescriptors.ENOENT)
            {
                return null;
            }

            if (errno is not UnixDescriptors.EISDIR and not UnixDescriptors.EPERM)
            {
                return $"{name}: {Describe(errno)}";
            }

            // EISDIR (Linux) or EPERM (macOS, POSIX) for a directory.
            using SafeFileHandle? subdirectory = UnixDescriptors.OpenSubdirectory(directory, name, out errno);
            if (subdirectory is null)
            {
                if (errno == UnixDescriptors.ELOOP || errno == UnixDescriptors.ENOTDIR)
                {
                    error = $"{name}: changed while it was being removed";
                    continue; // swapped for a link or a file: unlink that
                }

                return errno == UnixDescriptors.ENOENT ? null : $"{name}: {Describe(errno)}";
            }

            if (!UnixDescriptors.TryGetOwnerAndMode(subdirectory, out uint uid, out int mode))
            {
                return $"{name}: {UnreadableOwner}";
            }

            if (!UnixDescriptors.IsDirectory(mode) || uid != UnixDescriptors.EffectiveUserId())
            {
                return $"{name}: not a directory of ours (uid {uid})";
            }

            if (depth + 1 >= MaxDepth)
            {
                return $"{name}: nested deeper than {MaxDepth} levels";
            }

            error = RemoveContents(subdirectory, depth + 1, keep: null);
            errno = UnixDescriptors.Unlink(directory, name, removeDirectory: true);
            if (errno is 0 or UnixDescriptors.ENOENT)
            {
                return null;
            }

            if (errno != UnixDescriptors.ENOTDIR)
            {
                return error ?? $"{name}: {Describe(errno)}";
            }

            // ENOTDIR: the emptied directory was moved away and something else put in its place; go round again.
        }

        return error ?? $"{name}: kept changing while it was being removed";
    }

    private static string Describe(int errno) => System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno);
}
