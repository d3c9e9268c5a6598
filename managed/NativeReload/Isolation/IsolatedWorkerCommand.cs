using System.Reflection;

namespace NativeReload.Isolation;

/// <summary>
/// How to start a worker process: an executable and the arguments before the socket path, which is always appended
/// last. The worker must end up in <see cref="IsolationWorker.Run"/> with that path.
/// </summary>
/// <param name="FileName">The executable (<c>nativereload</c>, <c>dotnet</c>, or the host application itself).</param>
/// <param name="Arguments">Arguments before the socket path, e.g. <c>["worker"]</c> for the CLI.</param>
public sealed record IsolatedWorkerCommand(string FileName, IReadOnlyList<string> Arguments)
{
    /// <summary>Environment variable naming the <c>nativereload</c> executable (or <c>NativeReload.Cli.dll</c>) to use as the worker.</summary>
    public const string WorkerVariable = "NATIVERELOAD_WORKER";

    /// <summary>The <c>nativereload</c> CLI's hidden worker subcommand: <c>nativereload worker &lt;socket&gt;</c>.</summary>
    /// <param name="cliPath">The <c>nativereload</c> executable, or <c>NativeReload.Cli.dll</c> (then run through <c>dotnet</c>).</param>
    public static IsolatedWorkerCommand ForCli(string cliPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(cliPath);
        string full = Path.GetFullPath(cliPath);
        return full.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)
            ? new IsolatedWorkerCommand(DotnetHost(), [full, "worker"])
            : new IsolatedWorkerCommand(full, ["worker"]);
    }

    /// <summary>
    /// This very application, started again with <paramref name="arguments"/> (its <c>Main</c> must recognise them and
    /// call <see cref="IsolationWorker.Run"/> with the socket path that follows). Works for an app host and for
    /// <c>dotnet app.dll</c>.
    /// </summary>
    public static IsolatedWorkerCommand ForCurrentProcess(params string[] arguments)
    {
        string process = Environment.ProcessPath ?? throw new InvalidOperationException("the path of this process's executable is unknown");
        if (IsDotnetMuxer(process))
        {
            string entry = Assembly.GetEntryAssembly()?.Location is { Length: > 0 } location
                ? location
                : throw new InvalidOperationException("running under dotnet, but the entry assembly's path is unknown");
            return new IsolatedWorkerCommand(process, [entry, .. arguments]);
        }

        return new IsolatedWorkerCommand(process, arguments);
    }

    /// <summary>
    /// The default worker: <c>NATIVERELOAD_WORKER</c> if set; else the CLI itself when this process is the CLI; else a
    /// <c>nativereload</c> executable or <c>NativeReload.Cli.dll</c> next to this application.
    /// </summary>
    /// <exception cref="InvalidOperationException">None of those exists; the message says how to provide one.</exception>
    public static IsolatedWorkerCommand Default()
    {
        if (Environment.GetEnvironmentVariable(WorkerVariable) is { Length: > 0 } configured)
        {
            return ForCli(configured);
        }

        if (Assembly.GetEntryAssembly()?.GetName().Name == "NativeReload.Cli")
        {
            return ForCurrentProcess("worker");
        }

        string baseDirectory = AppContext.BaseDirectory;
        foreach (string candidate in new[] { OperatingSystem.IsWindows() ? "nativereload.exe" : "nativereload", "NativeReload.Cli.dll" })
        {
            string path = Path.Combine(baseDirectory, candidate);
            if (File.Exists(path))
            {
                return ForCli(path);
            }
        }

        throw new InvalidOperationException(
            $"no worker executable for the isolated mode: set {WorkerVariable} to the nativereload executable, set " +
            "IsolatedLibraryOptions.Worker (IsolatedWorkerCommand.ForCli or ForCurrentProcess), or ship nativereload next to the application");
    }

    private static bool IsDotnetMuxer(string path) =>
        Path.GetFileNameWithoutExtension(path).Equals("dotnet", StringComparison.OrdinalIgnoreCase);

    private static string DotnetHost() =>
        Environment.ProcessPath is { } process && IsDotnetMuxer(process)
            ? process
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
}
