using System.Collections.Concurrent;
using System.Diagnostics;

namespace NativeReload.Tests.Support;

/// <summary>
/// A temporary folder where a test does what a user does with the packages: pack them to a local feed (with a version
/// of their own, so no cached package is reused), point NuGet at it, run the dotnet CLI, start the app it built.
/// </summary>
internal sealed class PackageWorkspace : IDisposable
{
    private static readonly TimeSpan Step = TimeSpan.FromMinutes(4);

    public PackageWorkspace()
    {
        Path = Directory.CreateTempSubdirectory("nativereload-user-").FullName;
        Version = $"0.0.0-test.{DateTime.UtcNow:yyyyMMddHHmmssfff}";
        Packages = System.IO.Path.Combine(Path, "packages");
        File.WriteAllText(System.IO.Path.Combine(Path, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="local" value="{Packages}" />
              </packageSources>
            </configuration>
            """);
    }

    public string Path { get; }

    /// <summary>The version every package of this workspace is packed with.</summary>
    public string Version { get; }

    /// <summary>The local feed.</summary>
    public string Packages { get; }

    /// <summary>Packs the NativeReload library (with its generator) from the build output into the local feed.</summary>
    public void PackLibrary() =>
        Run("dotnet", ["pack", System.IO.Path.Combine(TestPaths.RepoRoot, "managed", "NativeReload"), "-c", "Release", "--no-build", "--nologo",
            "-o", Packages, $"-p:PackageVersion={Version}"], TestPaths.RepoRoot);

    /// <summary>Runs <paramref name="command"/> to completion in <paramref name="directory"/>; fails the test with its output if it fails.</summary>
    public static void Run(string command, string[] arguments, string directory)
    {
        var start = new ProcessStartInfo(command, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Step))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{command} {string.Join(' ', arguments)} did not finish within {Step.TotalMinutes} min");
        }

        Assert.That(process.ExitCode, Is.Zero, $"{command} {string.Join(' ', arguments)}:\n{stdout.Result}\n{stderr.Result}");
    }

    /// <summary>Starts a built app (<c>dotnet app.dll</c>) with its output collected line by line ("stderr: " marks the error stream).</summary>
    public static RunningApp Start(string dll, string workingDirectory, params string[] arguments) => new(dll, workingDirectory, arguments);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
    }

    internal sealed class RunningApp : IDisposable
    {
        private readonly Process _process;

        public RunningApp(string dll, string workingDirectory, string[] arguments)
        {
            _process = new Process
            {
                StartInfo = new ProcessStartInfo("dotnet", [dll, .. arguments])
                {
                    WorkingDirectory = workingDirectory,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                },
            };
            _process.OutputDataReceived += (_, e) => { if (e.Data is not null) { Output.Enqueue(e.Data); } };
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Output.Enqueue("stderr: " + e.Data); } };
            _process.Start();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public ConcurrentQueue<string> Output { get; } = new();

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            _process.WaitForExit(10_000);
            _process.Dispose();
        }
    }
}
