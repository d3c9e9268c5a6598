using System.Diagnostics;
using NativeReload.Loading;

namespace NativeReload.Tests.Support;

/// <summary>
/// A private copy of the greeter sample (native/greeter/greeter.c) with its own small CMake project, so a test can
/// edit the source and rebuild it with cmake exactly as a user does.
/// </summary>
internal sealed class SampleProject : IDisposable
{
    public SampleProject()
    {
        Root = Directory.CreateTempSubdirectory("nativereload-sample-").FullName;
        string include = Path.Combine(Root, "include");
        Directory.CreateDirectory(include);
        File.Copy(Path.Combine(TestPaths.RepoRoot, "native", "include", "nativereload_export.h"), Path.Combine(include, "nativereload_export.h"));
        File.Copy(Path.Combine(TestPaths.RepoRoot, "native", "greeter", "greeter.c"), SourcePath);
        File.WriteAllText(Path.Combine(Root, "CMakeLists.txt"), """
            cmake_minimum_required(VERSION 3.20)
            project(sample C)
            add_library(greeter SHARED greeter.c)
            target_include_directories(greeter PRIVATE include)
            set_target_properties(greeter PROPERTIES C_VISIBILITY_PRESET hidden
              LIBRARY_OUTPUT_DIRECTORY "$<1:${CMAKE_BINARY_DIR}/lib>"
              RUNTIME_OUTPUT_DIRECTORY "$<1:${CMAKE_BINARY_DIR}/lib>")
            """);
        Cmake("-S", Root, "-B", BuildDir, "-DCMAKE_BUILD_TYPE=Release");
    }

    public string Root { get; }

    public string SourcePath => Path.Combine(Root, "greeter.c");

    public string BuildDir => Path.Combine(Root, "build");

    public string LibraryPath => Path.Combine(BuildDir, "lib", LibraryNaming.FileName("greeter"));

    /// <summary>Replaces the default message in the source, as a user editing greeter.c does.</summary>
    public void SetMessage(string message)
    {
        string source = File.ReadAllText(SourcePath);
        int start = source.IndexOf("#define GREETER_MESSAGE \"", StringComparison.Ordinal);
        Assert.That(start, Is.GreaterThanOrEqualTo(0), "greeter.c must define GREETER_MESSAGE");
        int end = source.IndexOf('\n', start);
        File.WriteAllText(SourcePath, source[..start] + $"#define GREETER_MESSAGE \"{message}\"" + source[end..]);
    }

    /// <summary>Breaks the build's contract: the library no longer exports get_message.</summary>
    public void RemoveGetMessage() =>
        File.WriteAllText(SourcePath, "#define GREETER_OMIT_GET_MESSAGE 1\n" + File.ReadAllText(SourcePath));

    public void RestoreGetMessage() =>
        File.WriteAllText(SourcePath, File.ReadAllText(SourcePath).Replace("#define GREETER_OMIT_GET_MESSAGE 1\n", "", StringComparison.Ordinal));

    public void Build() => Cmake("--build", BuildDir, "--config", "Release");

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
    }

    private static void Cmake(params string[] arguments)
    {
        var start = new ProcessStartInfo("cmake") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.Zero, $"cmake {string.Join(' ', arguments)} failed:\n{stdout.Result}\n{stderr}");
    }
}
