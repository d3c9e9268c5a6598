using System.Globalization;
using System.Runtime.InteropServices;

namespace NativeReload.Loading;

/// <summary>
/// The libraries this process already has (Linux: the loader's own list, <c>dl_iterate_phdr</c>), to tell whether a
/// candidate is one of them: the same file (device and inode, which is how glibc itself recognises a library) or a
/// library with the same soname.
/// </summary>
/// <remarks>
/// The loader's list rather than <c>/proc/self/maps</c>: a .NET process has hundreds of mappings, and having the kernel
/// print them costs about a millisecond per reload; the list has a few dozen entries, each compared with one
/// <c>statx</c>.
/// </remarks>
internal static partial class LoadedLibraries
{
    /// <summary>A library loaded in this process, and the reason it matched.</summary>
    /// <param name="Path">The loaded file as the loader names it.</param>
    /// <param name="How">"the same file" or "the same soname libz.so.1".</param>
    public readonly record struct Match(string Path, string How);

    /// <summary>
    /// Finds a library loaded in this process that is <paramref name="filePath"/> itself or has the soname
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
        Match? bySoname = null;
        foreach (string loaded in LoadedPaths().Distinct(StringComparer.Ordinal))
        {
            if (Path.GetFileName(Path.GetDirectoryName(loaded))?.StartsWith(ownShadows, StringComparison.Ordinal) == true)
            {
                continue;
            }

            if (candidate is { } id && FileId.Of(loaded) == id)
            {
                return new Match(loaded, "the same file");
            }

            if (bySoname is null && soname is not null && HasSoname(loaded, soname))
            {
                bySoname = new Match(loaded, $"the same soname {soname}");
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

    /// <summary>The absolute paths in the loader's list (the main program, "" and the vDSO are left out).</summary>
    private static unsafe List<string> LoadedPaths()
    {
        var paths = new List<string>();
        GCHandle handle = GCHandle.Alloc(paths);
        try
        {
            _ = DlIteratePhdr(&CollectName, (void*)GCHandle.ToIntPtr(handle)); // returns the last callback value: always 0
        }
        catch (EntryPointNotFoundException)
        {
            // A C library without dl_iterate_phdr: nothing is known, nothing is said.
        }
        finally
        {
            handle.Free();
        }

        return paths;
    }

    /// <summary>Called by the loader for each object, with its lock held: only copies the name.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static unsafe int CollectName(nint info, nuint size, void* data)
    {
        // struct dl_phdr_info { ElfW(Addr) dlpi_addr; const char* dlpi_name; ... }
        byte* name = *(byte**)(info + sizeof(nint));
        if (name is not null && *name == (byte)'/')
        {
            var paths = (List<string>)GCHandle.FromIntPtr((nint)data).Target!;
            paths.Add(Marshal.PtrToStringUTF8((nint)name)!);
        }

        return 0; // go on
    }

    [LibraryImport("libc", EntryPoint = "dl_iterate_phdr")]
    private static unsafe partial int DlIteratePhdr(delegate* unmanaged[Cdecl]<nint, nuint, void*, int> callback, void* data);

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
