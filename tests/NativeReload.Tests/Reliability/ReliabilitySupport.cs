using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using NativeReload.Reloading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Reliability;

/// <summary>Helpers for the reliability tests: hostile files, process figures, privilege dropping.</summary>
internal static partial class ReliabilitySupport
{
    /// <summary>Short settle timeout so the "exactly one report" checks stay fast; the tests wait well past it.</summary>
    public static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(1);

    public static ReloadableLibraryOptions Options(bool watch = true, ApplyMode mode = ApplyMode.Immediately) => new()
    {
        WatchForChanges = watch,
        ApplyMode = mode,
        SettleTimeout = SettleTimeout,
    };

    public static string Message(ReloadableLibrary<GreeterExports> library)
    {
        using var scope = library.Enter();
        return scope.Exports.GetMessage();
    }

    public static int Version(ReloadableLibrary<GreeterExports> library)
    {
        using var scope = library.Enter();
        return scope.Exports.Version;
    }

    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    public static string Sha256OfFile(string path) => Sha256(File.ReadAllBytes(path));

    /// <summary>A copy of a real ELF fixture with e_machine patched (e.g. 183 = EM_AARCH64).</summary>
    public static byte[] WithElfMachine(string fixture, ushort machine)
    {
        byte[] bytes = File.ReadAllBytes(TestPaths.Fixture(fixture));
        Assert.That(bytes.AsSpan(0, 4).ToArray(), Is.EqualTo(new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F' }), "the fixture is ELF");
        bytes[18] = (byte)(machine & 0xff); // e_machine, little-endian (EI_DATA = ELFDATA2LSB on x86-64/aarch64)
        bytes[19] = (byte)(machine >> 8);
        return bytes;
    }

    /// <summary>Shadow copies in a shadow directory (the owner lock file is not a copy).</summary>
    public static int CountCopies(string shadowDirectory) =>
        Directory.Exists(shadowDirectory) ? Directory.GetFiles(shadowDirectory).Count(f => Path.GetFileName(f) != ".owner") : 0;

    /// <summary>Open file descriptors of this process (Linux).</summary>
    public static int OpenFileDescriptors() => Directory.GetFiles("/proc/self/fd").Length;

    /// <summary>Resident set size in KiB after a full GC (Linux).</summary>
    public static long RssKiB()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }

    /// <summary>Lines of /proc/self/maps whose path contains <paramref name="fragment"/>.</summary>
    public static int Mappings(string fragment) => File.ReadLines("/proc/self/maps").Count(l => l.Contains(fragment, StringComparison.Ordinal));

    /// <summary>All lines of /proc/self/maps.</summary>
    public static int AllMappings() => File.ReadLines("/proc/self/maps").Count();

    /// <summary>
    /// Makes file access checks on the calling thread (only) run as <paramref name="uid"/>: Linux's fsuid is per
    /// thread, and changing it away from 0 drops CAP_DAC_OVERRIDE from the thread's effective set, so root really
    /// gets "permission denied" on a mode-000 file. Dispose restores it.
    /// </summary>
    public static IDisposable FileAccessAs(uint uid)
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("per-thread file system uid is Linux only");
        }

        if (!IsRoot)
        {
            // An ordinary user is denied a mode-000 file already: nothing to drop, and nothing to skip.
            return new NoChange();
        }

        Thread.BeginThreadAffinity();
        uint previous = SetFsUid(uid);
        if (SetFsUid(uid) != uid)
        {
            _ = SetFsUid(previous);
            Thread.EndThreadAffinity();
            Assert.Ignore($"setfsuid({uid}) was refused (no CAP_SETUID); cannot drop file access rights in this process");
        }

        return new Restore(previous);
    }

    private sealed class NoChange : IDisposable
    {
        public void Dispose()
        {
        }
    }

    /// <summary>chmod on Unix; nothing on Windows (the callers skip there).</summary>
    public static void Chmod(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, mode);
        }
    }

    public static bool IsRoot => OperatingSystem.IsLinux() && GetEuid() == 0;

    [LibraryImport("libc", EntryPoint = "setfsuid")]
    private static partial uint SetFsUid(uint uid);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();

    private sealed class Restore(uint previous) : IDisposable
    {
        public void Dispose()
        {
            _ = SetFsUid(previous);
            Thread.EndThreadAffinity();
        }
    }
}
