using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace NativeReload.ShadowCopying;

/// <summary>
/// How shadow directories are made, swept and removed under a root on one kind of system. Exactly one is chosen per
/// process (<see cref="Current"/>); tests construct the others directly, so each system's logic runs on every
/// machine (Windows' path-based logic uses only <c>System.IO</c> and behaves the same on Linux, where .NET's
/// <see cref="FileShare.None"/> is an exclusive <c>flock</c>).
/// </summary>
/// <remarks>
/// Why three and not an <c>if</c> per call site: the choice (Windows, Unix with descriptor-relative calls, Unix
/// without them) used to be re-made in <c>Create</c>, the sweep and <c>Dispose</c>; one object per system keeps the
/// three decisions consistent and lets a test drive each system's code where it is not the running one.
/// </remarks>
internal abstract partial class ShadowRoot
{
    /// <summary>The implementation for the running system.</summary>
    public static ShadowRoot Current { get; } = Detect();

    /// <summary>Creates a new shadow directory under <paramref name="root"/>, already locked under its final name.</summary>
    /// <param name="root">An existing directory.</param>
    /// <returns>The directory's full path and the open, locked <c>.owner</c> file that marks it as in use.</returns>
    /// <exception cref="IOException">The directory could not be created or set up; nothing is left behind.</exception>
    public abstract (string Path, FileStream OwnerLock) Create(string root);

    /// <summary>Removes this user's shadow directories under <paramref name="root"/> whose owner is gone; see <see cref="ShadowCopyDirectory"/>.</summary>
    /// <returns>How many were removed.</returns>
    public abstract int RemoveAbandoned(string root, ILogger logger);

    /// <summary>Removes one of our directories whose lock we have just released, as a sweep would.</summary>
    public abstract SweepVerdict TryRemoveReleased(string path, out string reason);

    /// <summary>64 random bits as 16 lowercase hex digits: what makes every name we create unguessable.</summary>
    internal static string RandomToken() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    /// <summary>Creates <c>.owner</c> in <paramref name="directory"/>, locked (<c>flock(LOCK_EX)</c> on Unix, a sharing lock on Windows).</summary>
    protected static FileStream CreateOwnerLock(string directory) =>
        new(Path.Combine(directory, ShadowCopyDirectory.OwnerFileName), new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.None,
            Options = FileOptions.None,
        });

    /// <summary>Logs one sweep verdict; 1 when the directory was removed.</summary>
    protected static int Report(ILogger logger, string path, SweepVerdict verdict, string reason)
    {
        switch (verdict)
        {
            case SweepVerdict.Removed:
                Log.AbandonedRemoved(logger, path);
                return 1;
            case SweepVerdict.Failed:
                Log.AbandonedNotRemoved(logger, path, reason);
                return 0;
            case SweepVerdict.NotOurs:
                Log.ShadowDirectorySkipped(logger, path, reason);
                return 0;
            default:
                return 0; // in use: the normal case for every other running host
        }
    }

    /// <summary>Exactly the names <see cref="Create"/> makes: mkdtemp's 6 characters on Unix, none on Windows.</summary>
    [GeneratedRegex(@"^nativereload-[0-9]+-[0-9a-f]{16}([0-9A-Za-z]{6})?$", RegexOptions.CultureInvariant)]
    protected static partial Regex OwnedName();

    private static ShadowRoot Detect()
    {
        if (OperatingSystem.IsWindows())
        {
            return new WindowsShadowRoot();
        }

        return UnixDescriptors.IsSupported ? new UnixShadowRoot() : new UnsweptUnixShadowRoot();
    }
}
