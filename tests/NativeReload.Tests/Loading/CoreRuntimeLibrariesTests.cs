using NativeReload.Loading;

namespace NativeReload.Tests.Loading;

/// <summary>The names refused on every OS: the C runtime and the dynamic loader (checked without the platform).</summary>
[TestFixture]
public sealed class CoreRuntimeLibrariesTests
{
    [TestCase("libc.so.6", "the C runtime")]
    [TestCase("libc.so", "the C runtime")]
    [TestCase("libc-2.31.so", "the C runtime")]
    [TestCase("libc.musl-x86_64.so.1", "the C runtime")]
    [TestCase("libpthread.so.0", "part of the C runtime")]
    [TestCase("libdl.so.2", "part of the C runtime")]
    [TestCase("ld-linux-x86-64.so.2", "the dynamic loader")]
    [TestCase("ld-linux-aarch64.so.1", "the dynamic loader")]
    [TestCase("ld-musl-x86_64.so.1", "the dynamic loader")]
    [TestCase("ld64.so.2", "the dynamic loader")]
    [TestCase("ld-2.31.so", "the dynamic loader")]
    [TestCase("libSystem.B.dylib", "the C runtime (libSystem)")]
    [TestCase("libdyld.dylib", "the dynamic loader")]
    [TestCase("ucrtbase.dll", "the C runtime")]
    [TestCase("MSVCRT.DLL", "the C runtime")]
    [TestCase("api-ms-win-crt-runtime-l1-1-0.dll", "the C runtime")]
    [TestCase("KERNEL32.dll", "a core Windows DLL (the loader and the process's own state live there)")]
    [TestCase("ntdll.dll", "a core Windows DLL (the loader and the process's own state live there)")]
    public void Describe_NamesTheCoreRuntime(string name, string expected) =>
        Assert.That(CoreRuntimeLibraries.Describe(name), Is.EqualTo(expected));

    [TestCase("libcrypto.so.3")]
    [TestCase("libcurl.so.4")]
    [TestCase("libm.so.6")]
    [TestCase("libz.so.1")]
    [TestCase("libstdc++.so.6")]
    [TestCase("libdlib.so")]
    [TestCase("libc-client.so")]
    [TestCase("ldap.so")]
    [TestCase("libgreeter.so")]
    [TestCase("greeter.dll")]
    [TestCase("msvcp140.dll")]
    [TestCase("libsystem_greeter.dylib")]
    public void Describe_ReturnsNull_ForOtherLibraries(string name) =>
        Assert.That(CoreRuntimeLibraries.Describe(name), Is.Null);
}
