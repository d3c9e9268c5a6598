using System.Runtime.InteropServices;

namespace NativeReload.Isolation;

/// <summary>What the worker needs from the operating system that .NET does not offer.</summary>
internal static partial class WorkerNative
{
    /// <summary>
    /// Removes <paramref name="name"/> from the native environment (<c>unsetenv</c>), which the library's <c>getenv</c>
    /// and its child processes see. On Unix <see cref="Environment.SetEnvironmentVariable(string, string)"/> changes only
    /// .NET's own copy; on Windows it changes the process environment itself, so there is nothing more to do.
    /// </summary>
    public static void UnsetEnvironmentVariable(string name)
    {
        if (!OperatingSystem.IsWindows())
        {
            _ = Unsetenv(name);
        }
    }

    /// <summary>
    /// Ends this process at once when the host is gone. The host gives the worker a pipe as standard input and never
    /// writes to it; the pipe reaches end of file when the host exits, however it ended (SIGKILL included), while the
    /// library may be stuck in a call and never read the socket again. A background thread waits for that.
    /// </summary>
    public static void ExitWhenHostIsGone()
    {
        var watch = new Thread(() =>
        {
            try
            {
                using Stream input = Console.OpenStandardInput();
                byte[] buffer = new byte[64];
                while (input.Read(buffer) > 0)
                {
                    // the host never writes; anything that arrives is ignored
                }
            }
            catch (IOException)
            {
                // a broken pipe is the same news
            }

            ExitNow(3);
        })
        {
            IsBackground = true,
            Name = "NativeReload worker host watch",
        };
        watch.Start();
    }

    /// <summary>Exits without running anything else: the library may hold locks or be mid-call, and nobody waits for an answer.</summary>
    private static void ExitNow(int code)
    {
        if (OperatingSystem.IsWindows())
        {
            Environment.Exit(code);
        }

        Exit(code);
    }

    [LibraryImport("libc", EntryPoint = "unsetenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Unsetenv(string name);

    [LibraryImport("libc", EntryPoint = "_exit")]
    private static partial void Exit(int code);
}
