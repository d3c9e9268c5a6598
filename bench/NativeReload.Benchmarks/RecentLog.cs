using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace NativeReload.Benchmarks;

/// <summary>Keeps the library's last log lines, so a reload that never came can be explained in the output.</summary>
internal sealed class RecentLog : ILogger
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        _lines.Enqueue($"{Stopwatch.GetTimestamp() * 1000.0 / Stopwatch.Frequency:F1} {formatter(state, exception)}");
        while (_lines.Count > 40 && _lines.TryDequeue(out _))
        {
        }
    }

    public IReadOnlyList<string> Take() => [.. _lines];
}
