using NativeReload.Loading;

namespace NativeReload.Benchmarks;

/// <summary>Where the repository, the native build and the fixtures are (same rules as the tests' TestPaths).</summary>
internal static class Repo
{
    /// <summary>Set by the parent process so BenchmarkDotNet's child processes find the same files.</summary>
    public const string RootVariable = "NATIVERELOAD_REPO";

    public static string Root { get; } = FindRoot();

    public static string BuildDir =>
        Environment.GetEnvironmentVariable("NATIVERELOAD_BUILD_DIR") is { Length: > 0 } dir ? dir : Path.Combine(Root, "build");

    /// <summary>The C sample, build/lib/libgreeter.so ("Hello from C!", add = a+b).</summary>
    public static string Sample => Require(Path.Combine(BuildDir, "lib", LibraryNaming.FileName("greeter")));

    /// <summary>A fixture from build/fixtures, e.g. "greeter_v1".</summary>
    public static string Fixture(string name) => Require(Path.Combine(BuildDir, "fixtures", LibraryNaming.FileName(name)));

    private static string Require(string path) =>
        File.Exists(path)
            ? path
            : throw new FileNotFoundException($"{path} is missing: build the native side first (./build.sh, or cmake -S . -B build && cmake --build build)", path);

    private static string FindRoot()
    {
        if (Environment.GetEnvironmentVariable(RootVariable) is { Length: > 0 } fromParent)
        {
            return fromParent;
        }

        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "NativeReload.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new InvalidOperationException("NativeReload.sln not found above the current directory; run from the repository");
    }
}
