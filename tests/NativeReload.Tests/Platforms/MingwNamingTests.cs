using System.Diagnostics;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Platforms;

/// <summary>
/// A MinGW cross-build names its DLLs as Windows does (greeter.dll, not GCC's libgreeter.dll), so build.ps1, the
/// README and the tests find them (issue 15 item 3). Needs cmake and x86_64-w64-mingw32-gcc on PATH.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class MingwNamingTests
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(3);

    [Test]
    public void MingwBuild_NamesTheSampleGreeterDll_WithoutTheLibPrefix()
    {
        if (!OnPath("cmake") || !OnPath("x86_64-w64-mingw32-gcc"))
        {
            Assert.Ignore("needs cmake and x86_64-w64-mingw32-gcc (apt-get install gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64)");
        }

        string build = Directory.CreateTempSubdirectory("nativereload-mingw-").FullName;
        try
        {
            string toolchain = Path.Combine(TestPaths.RepoRoot, "cmake", "toolchains", "mingw-w64-x86_64.cmake");
            Run("cmake", "-S", TestPaths.RepoRoot, "-B", build, "-DCMAKE_BUILD_TYPE=Release", $"-DCMAKE_TOOLCHAIN_FILE={toolchain}");
            Run("cmake", "--build", build, "--target", "greeter", "depmain_v1");

            Assert.Multiple(() =>
            {
                Assert.That(File.Exists(Path.Combine(build, "lib", "greeter.dll")), Is.True, "lib/greeter.dll");
                Assert.That(File.Exists(Path.Combine(build, "lib", "libgreeter.dll")), Is.False, "no lib/libgreeter.dll");
                Assert.That(File.Exists(Path.Combine(build, "fixtures", "deps", "nrdep.dll")), Is.True, "a linked dependency: fixtures/deps/nrdep.dll");
                Assert.That(File.Exists(Path.Combine(build, "fixtures", "deps", "depmain_v1.dll")), Is.True, "fixtures/deps/depmain_v1.dll");
            });
        }
        finally
        {
            try
            {
                Directory.Delete(build, recursive: true);
            }
            catch (IOException)
            {
                // best effort: a temporary build tree
            }
        }
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, program)));

    private static void Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(StepTimeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} {string.Join(' ', arguments)} did not finish in {StepTimeout.TotalSeconds} s");
        }

        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            Assert.Fail($"{program} {string.Join(' ', arguments)} exited {process.ExitCode}:\n{output.Result}\n{errors.Result}");
        }
    }
}
