using NativeReload.Reloading;

namespace NativeReload.Cli.Running;

/// <summary>The CLI's stderr lines about reloads: part of its public contract, so written in one place.</summary>
internal static class ReportLines
{
    /// <summary><c>reloaded &lt;file&gt; (generation N, X ms)</c>.</summary>
    public static string Reloaded(ReloadedEventArgs e) =>
        $"reloaded {e.FilePath} (generation {e.Generation}, {e.LoadDuration.TotalMilliseconds:F1} ms)";

    /// <summary><c>reload failed: &lt;file&gt;: &lt;reason&gt;; still running generation N</c> (or that none runs, in isolated mode).</summary>
    public static string ReloadFailed(ReloadFailedEventArgs e) =>
        e.RunningGeneration > 0
            ? $"reload failed: {e.FilePath}: {e.Detail}; still running generation {e.RunningGeneration}"
            : $"reload failed: {e.FilePath}: {e.Detail}; no generation is running";
}
