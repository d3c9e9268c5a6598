using NativeReload.Loading;

namespace NativeReload.Tests.Support;

/// <summary>Where the build put what the tests need: fixtures from CMake, the published CLI.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The CMake build directory (NATIVERELOAD_BUILD_DIR, else build/).</summary>
    public static string BuildDir { get; } =
        Environment.GetEnvironmentVariable("NATIVERELOAD_BUILD_DIR") is { Length: > 0 } dir ? dir : Path.Combine(RepoRoot, "build");

    public static string FixturesDir => Path.Combine(BuildDir, "fixtures");

    /// <summary>The published host (NATIVERELOAD_CLI, else artifacts/nativereload/nativereload).</summary>
    public static string Cli { get; } =
        Environment.GetEnvironmentVariable("NATIVERELOAD_CLI") is { Length: > 0 } cli
            ? cli
            : Path.Combine(RepoRoot, "artifacts", "nativereload", OperatingSystem.IsWindows() ? "nativereload.exe" : "nativereload");

    /// <summary>Path of a fixture library built by native/fixtures (e.g. "greeter_v1"); fails the test with the fix when absent.</summary>
    public static string Fixture(string name)
    {
        string path = Path.Combine(FixturesDir, LibraryNaming.FileName(name));
        if (!File.Exists(path))
        {
            Assert.Fail($"fixture {path} is missing: build the native side first (./build.sh, or cmake -S . -B build && cmake --build build)");
        }

        return path;
    }

    /// <summary>True when the fixture group (a line of fixtures.txt, e.g. "rust") was built.</summary>
    public static bool HasFixtureGroup(string group)
    {
        string list = Path.Combine(FixturesDir, "fixtures.txt");
        return File.Exists(list) && File.ReadAllLines(list).Any(line => line.Trim() == group);
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NativeReload.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"NativeReload.sln not found above {AppContext.BaseDirectory}");
    }
}
