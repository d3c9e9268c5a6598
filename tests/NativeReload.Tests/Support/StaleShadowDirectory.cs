using System.Runtime.InteropServices;
using System.Security.Cryptography;
using NativeReload.ShadowCopying;

namespace NativeReload.Tests.Support;

/// <summary>
/// Shadow directories as a process that died would have left them, for the sweep tests: named exactly like the ones
/// <see cref="ShadowCopyDirectory.Create"/> makes (with a pid no process has), owner-only, with an unlocked lock file.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal static partial class StaleShadowDirectory
{
    /// <summary>A pid above Linux's pid_max: no live process owns it.</summary>
    public const int DeadPid = 2_000_000_000;

    /// <summary>A fresh name of our exact shape: prefix, pid, 16 hex digits, mkdtemp's 6 characters.</summary>
    public static string Name() =>
        $"{ShadowCopyDirectory.DirectoryPrefix}{DeadPid}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}Xy9aB0";

    /// <summary>Plants one under <paramref name="root"/> (mode 0700 unless said otherwise) and returns its path.</summary>
    public static string Plant(string root, UnixFileMode mode = (UnixFileMode)0b111_000_000, bool ownerFile = true, string? name = null)
    {
        string directory = Directory.CreateDirectory(Path.Combine(root, name ?? Name())).FullName;
        File.SetUnixFileMode(directory, mode);
        if (ownerFile)
        {
            File.WriteAllText(Path.Combine(directory, ".owner"), string.Empty);
        }

        return directory;
    }

    /// <summary>Changes the owner of <paramref name="path"/> itself, not of a link's target (libc <c>lchown</c>).</summary>
    [LibraryImport("libc", EntryPoint = "lchown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int LChown(string path, int owner, int group);

    /// <summary>The effective uid, the owner every directory of ours must have.</summary>
    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint Geteuid();
}
