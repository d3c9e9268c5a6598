using System.Globalization;
using System.Runtime.InteropServices;

namespace NativeReload.Loading;

/// <summary>
/// The files this process has mapped (Linux: <c>/proc/self/maps</c>), to tell whether a candidate library is one the
/// process already runs: the same file (device and inode, which is how glibc itself recognises a library) or a
/// library with the same soname.
/// </summary>
internal static partial class LoadedLibraries
{
    /// <summary>A file mapped into this process, and the reason it matched.</summary>
    /// <param name="Path">The mapped file as the kernel names it.</param>
    /// <param name="How">"the same file" or "the same soname libz.so.1".</param>
    public readonly record struct Match(string Path, string How);

    /// <summary>
    /// Finds a library mapped into this process that is <paramref name="filePath"/> itself or has the soname
    /// <paramref name="soname"/>. This process's own shadow copies (<c>nativereload-&lt;pid&gt;-*</c> directories) are
    /// not counted: loading a new generation beside the old ones is the point. Null on other OSes or when none matches.
    /// </summary>
    public static Match? Find(string filePath, string? soname)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        FileId? candidate = FileId.Of(filePath);
        string ownShadows = string.Create(CultureInfo.InvariantCulture, $"{ShadowCopying.ShadowCopyDirectory.DirectoryPrefix}{Environment.ProcessId}-");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        Match? bySoname = null;
        foreach (MappedFile mapped in ReadMaps())
        {
            if (!seen.Add(mapped.Path)
                || Path.GetFileName(Path.GetDirectoryName(mapped.Path))?.StartsWith(ownShadows, StringComparison.Ordinal) == true)
            {
                continue;
            }

            // The maps line's device and inode, then stat of the path: on overlayfs the two can differ.
            if (candidate is { } id && (id == mapped.Id || id == FileId.Of(mapped.Path)))
            {
                return new Match(mapped.Path, "the same file");
            }

            if (bySoname is null && soname is not null && HasSoname(mapped.Path, soname))
            {
                bySoname = new Match(mapped.Path, $"the same soname {soname}");
            }
        }

        return bySoname;
    }

    /// <summary>
    /// True when the loaded file <paramref name="path"/> is named after <paramref name="soname"/> (<c>libz.so.1</c>, or
    /// the real name <c>libz.so.1.2.13</c> of the usual symlink chain) and its own <c>DT_SONAME</c> says so.
    /// </summary>
    private static bool HasSoname(string path, string soname)
    {
        string name = Path.GetFileName(path);
        if (name != soname && !name.StartsWith(soname + ".", StringComparison.Ordinal))
        {
            return false;
        }

        try
        {
            var info = new FileInfo(path);
            if (!info.Exists || info.Length > 256L * 1024 * 1024)
            {
                return false;
            }

            return Validation.ElfDynamicReader.Read(File.ReadAllBytes(path)).Soname == soname;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return name == soname; // unreadable: the file name alone is what the loader would have used
        }
    }

    private readonly record struct MappedFile(string Path, FileId Id);

    /// <summary>Mapped regular files: "start-end perms offset major:minor inode /path".</summary>
    private static IEnumerable<MappedFile> ReadMaps()
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines("/proc/self/maps");
        }
        catch (IOException)
        {
            yield break;
        }

        foreach (string line in lines)
        {
            string[] fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 6 || !fields[5].StartsWith('/') || fields[5].EndsWith(" (deleted)", StringComparison.Ordinal))
            {
                continue;
            }

            string[] device = fields[3].Split(':');
            if (device.Length == 2
                && ulong.TryParse(device[0], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong major)
                && ulong.TryParse(device[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong minor)
                && ulong.TryParse(fields[4], NumberStyles.None, CultureInfo.InvariantCulture, out ulong inode)
                && inode != 0)
            {
                yield return new MappedFile(fields[5].Trim(), new FileId(major, minor, inode));
            }
        }
    }

    /// <summary>Device and inode of a file, following symbolic links (<c>statx</c>, whose layout is the same on every
    /// architecture).</summary>
    private readonly partial record struct FileId(ulong Major, ulong Minor, ulong Inode)
    {
        private const int AtFdCwd = -100;
        private const uint StatxIno = 0x100;

        private static volatile bool s_noStatx;

        public static unsafe FileId? Of(string path)
        {
            if (s_noStatx)
            {
                return null;
            }

            byte* buffer = stackalloc byte[256];
            try
            {
                if (Statx(AtFdCwd, path, 0, StatxIno, buffer) != 0)
                {
                    return null;
                }
            }
            catch (EntryPointNotFoundException)
            {
                s_noStatx = true; // a C library without statx (glibc < 2.28): the soname check still works
                return null;
            }

            // struct statx: stx_ino at 32, stx_dev_major at 136, stx_dev_minor at 140.
            return new FileId(*(uint*)(buffer + 136), *(uint*)(buffer + 140), *(ulong*)(buffer + 32));
        }

        [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
        private static unsafe partial int Statx(int directory, string path, int flags, uint mask, byte* buffer);
    }
}
