using System.Runtime.InteropServices;

namespace NativeReload.Tests.Support;

/// <summary>
/// The process environment as native code sees it (<c>getenv</c>). On Unix, <see cref="Environment.SetEnvironmentVariable(string, string)"/>
/// changes only .NET's own copy, so a fixture that reads a variable must be given it through libc.
/// </summary>
internal static partial class NativeEnvironment
{
    /// <summary>Sets <paramref name="name"/> for native code (and .NET), or removes it when <paramref name="value"/> is null.</summary>
    public static void Set(string name, string? value)
    {
        Environment.SetEnvironmentVariable(name, value);
        int result = value is null ? UnsetEnv(name) : SetEnv(name, value, 1);
        if (result != 0)
        {
            throw new InvalidOperationException($"setenv/unsetenv {name} failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int SetEnv(string name, string value, int overwrite);

    [LibraryImport("libc", EntryPoint = "unsetenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int UnsetEnv(string name);
}
