using NativeReload.Tests.Support;

namespace NativeReload.Tests.EndToEnd;

/// <summary>
/// The <c>dotnet new</c> templates (templates/NativeReload.Templates), as a user gets them: packed locally, installed
/// into a private template hive, instantiated, built against the locally packed NativeReload package, run; a saved
/// edit of the native source is rebuilt by the host and its new message shows.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class TemplateTests
{
    private PackageWorkspace _workspace = null!;

    [SetUp]
    public void SetUp() => _workspace = new PackageWorkspace();

    [TearDown]
    public void TearDown() => _workspace.Dispose();

    [TestCase("nativereload-host", "native/hostlib.c", "Hello from C!", TestName = "Template_CHost_BuildsRunsAndReloadsAnEditedSource")]
    [TestCase("nativereload-host-rust", "native/src/lib.rs", "Hello from Rust!", TestName = "Template_RustHost_BuildsRunsAndReloadsAnEditedSource")]
    public void Template_BuildsRunsAndReloadsAnEditedSource(string template, string source, string message)
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("runs the native build with the Linux toolchains of this machine");
        }

        string hive = Path.Combine(_workspace.Path, "template-hive");
        string app = Path.Combine(_workspace.Path, "HelloHost");
        _workspace.PackLibrary();
        PackageWorkspace.Run("dotnet", ["pack", Path.Combine(TestPaths.RepoRoot, "templates", "NativeReload.Templates"), "-c", "Release", "--nologo",
            "-o", _workspace.Packages, $"-p:PackageVersion={_workspace.Version}"], TestPaths.RepoRoot);
        PackageWorkspace.Run("dotnet", ["new", "install", Path.Combine(_workspace.Packages, $"NativeReload.Templates.{_workspace.Version}.nupkg"),
            "--debug:custom-hive", hive], _workspace.Path);
        PackageWorkspace.Run("dotnet", ["new", template, "-n", "HelloHost", "-o", app, "--nativereload-version", _workspace.Version,
            "--debug:custom-hive", hive], _workspace.Path);
        PackageWorkspace.Run("dotnet", ["build", app, "--nologo", "-v", "q"], _workspace.Path);

        using var host = PackageWorkspace.Start(Path.Combine(app, "bin", "Debug", "net10.0", "HelloHost.dll"), app, "3000", "100");
        Eventually.That(() => host.Output.Contains($"message: {message}"), $"the first build's message ({message})", TimeSpan.FromSeconds(120));

        string file = Path.Combine(app, source);
        File.WriteAllText(file, File.ReadAllText(file).Replace(message, "Edited and reloaded!", StringComparison.Ordinal));
        Eventually.That(() => host.Output.Contains("message: Edited and reloaded!"), "the edited source rebuilt and reloaded", TimeSpan.FromSeconds(120));
        Assert.That(host.Output.Where(l => l.StartsWith("stderr: reload failed", StringComparison.Ordinal)), Is.Empty,
            () => string.Join("\n", host.Output));
    }
}
