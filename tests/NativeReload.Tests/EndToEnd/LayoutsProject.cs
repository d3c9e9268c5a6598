using System.Diagnostics;
using NativeReload.Loading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.EndToEnd;

/// <summary>
/// A throw-away project laid out the way a user lays one out (one C file, a CMake project, a cargo crate), watched by
/// the published host started in the project's folder.
/// </summary>
internal sealed class LayoutsProject : IDisposable
{
    public LayoutsProject()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("the layouts are built with gcc/cmake/cargo through /bin/sh");
        }

        Root = Directory.CreateTempSubdirectory("nativereload-layout-").FullName;
    }

    public string Root { get; }

    /// <summary>The platform's file name of a library called <paramref name="name"/> (libgreet.so, libgreet.dylib).</summary>
    public static string LibraryFile(string name) => LibraryNaming.FileName(name);

    /// <summary>Writes a one-function C library source at <paramref name="relative"/> whose get_message returns <paramref name="message"/>.</summary>
    public void WriteGreeter(string relative, string message) => Write(relative, $$"""
        __attribute__((visibility("default"))) const char* get_message(void) { return "{{message}}"; }

        """);

    /// <summary>Writes a one-file Rust cdylib crate (no dependencies) at the root.</summary>
    public void WriteCrate(string message)
    {
        Write("Cargo.toml", """
            [package]
            name = "greet"
            version = "0.1.0"
            edition = "2021"

            [lib]
            crate-type = ["cdylib"]
            path = "src/lib.rs"

            """);
        Write("src/lib.rs", RustSource(message));
    }

    public static string RustSource(string message) => $$"""
        #[no_mangle]
        pub extern "C" fn get_message() -> *const u8 { b"{{message}}\0".as_ptr() }

        """;

    public void Write(string relative, string content)
    {
        string path = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    /// <summary>Saves the way sed -i, vim (default) and many editors do: a new file renamed over the old one.</summary>
    public void WriteByRename(string relative, string content)
    {
        string path = Path.Combine(Root, relative);
        string temporary = Path.Combine(Path.GetDirectoryName(path)!, "sedX1b2c3");
        File.WriteAllText(temporary, content);
        File.Move(temporary, path, overwrite: true);
    }

    public HostProcess Watch(string library, string build, string source, params string[] more) =>
        new(["watch", library, "--build", build, "--source", source, "--every", "100ms", .. more], workingDirectory: Root);

    /// <summary>Runs a setup command (cmake configure) in the project; fails the test with its output when it fails.</summary>
    public void Run(string command)
    {
        var start = new ProcessStartInfo("/bin/sh") { WorkingDirectory = Root, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(command);
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        Assert.That(process.WaitForExit(60_000), Is.True, $"{command} did not finish in 60 s");
        Assert.That(process.ExitCode, Is.Zero, $"{command} failed:\n{stdout.Result}\n{stderr}");
    }

    public static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Any(dir => File.Exists(Path.Combine(dir, tool)));

    public static int BuildsStarted(HostProcess host) => host.Stderr.Count(l => l.StartsWith("build: ", StringComparison.Ordinal));

    /// <summary>Waits until no build has started for <paramref name="quiet"/> (bounded), then returns the count.</summary>
    public static int BuildsOnceQuiet(HostProcess host, TimeSpan quiet)
    {
        var deadline = Stopwatch.StartNew();
        int count = BuildsStarted(host);
        var since = Stopwatch.StartNew();
        while (since.Elapsed < quiet)
        {
            Assert.That(deadline.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)), $"builds never stopped starting:\n{string.Join("\n", host.Stderr)}");
            Thread.Sleep(50);
            int now = BuildsStarted(host);
            if (now != count)
            {
                count = now;
                since.Restart();
            }
        }

        return count;
    }

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
}
