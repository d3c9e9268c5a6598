namespace NativeReload.Watching;

/// <summary>
/// What the file system says about a library path at one moment: enough to notice a change without reading
/// the file (the polling fallback) and to notice that a file changed while it was being read.
/// </summary>
/// <param name="Exists">The path, after following symbolic links, names an existing file system entry.</param>
/// <param name="IsRegularFile">That entry is a file (not a directory).</param>
/// <param name="ResolvedPath">The final target when the path is a symbolic link, else the path itself.</param>
/// <param name="Length">Length in bytes of the resolved file (0 when it does not exist).</param>
/// <param name="LastWriteUtc">Last write time of the resolved file.</param>
/// <param name="LinkTarget">The link's immediate target when the path is a symbolic link, else null.</param>
public readonly record struct FileStamp(bool Exists, bool IsRegularFile, string ResolvedPath, long Length, DateTime LastWriteUtc, string? LinkTarget)
{
    /// <summary>Reads the stamp of <paramref name="path"/>; never throws for a missing or unreadable path.</summary>
    /// <param name="path">The library path as the user gave it.</param>
    public static FileStamp Capture(string path)
    {
        string resolved = path;
        string? linkTarget = null;
        try
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is { } target)
            {
                linkTarget = target;
                resolved = info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
            }

            if (Directory.Exists(resolved))
            {
                return new FileStamp(true, false, resolved, 0, Directory.GetLastWriteTimeUtc(resolved), linkTarget);
            }

            var file = new FileInfo(resolved);
            return file.Exists
                ? new FileStamp(true, true, resolved, file.Length, file.LastWriteTimeUtc, linkTarget)
                : new FileStamp(false, false, resolved, 0, default, linkTarget);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new FileStamp(false, false, resolved, 0, default, linkTarget);
        }
    }
}
