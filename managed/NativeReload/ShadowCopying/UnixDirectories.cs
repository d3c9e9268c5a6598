using System.Runtime.InteropServices;
using System.Text;

namespace NativeReload.ShadowCopying;

/// <summary>The POSIX call the shadow directory needs that .NET does not expose for an arbitrary root.</summary>
internal static partial class UnixDirectories
{
    /// <summary>
    /// Creates a new directory <c>&lt;template-without-XXXXXX&gt;&lt;6 random characters&gt;</c> with <c>mkdtemp</c>:
    /// created exclusively (fails rather than reuse an existing entry, never follows a planted symlink), mode 0700.
    /// </summary>
    /// <param name="templateWithoutSuffix">The full path of the directory without its random suffix.</param>
    /// <returns>The path of the created directory.</returns>
    /// <exception cref="IOException">The directory could not be created.</exception>
    public static unsafe string MakeTemporaryDirectory(string templateWithoutSuffix)
    {
        byte[] template = Encoding.UTF8.GetBytes(templateWithoutSuffix + "XXXXXX\0");
        fixed (byte* buffer = template)
        {
            if (MkdTemp(buffer) is null)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IOException($"{templateWithoutSuffix}XXXXXX: cannot create the shadow directory: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }

        return Encoding.UTF8.GetString(template, 0, template.Length - 1);
    }

    [LibraryImport("libc", EntryPoint = "mkdtemp", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static unsafe partial byte* MkdTemp(byte* template);
}
