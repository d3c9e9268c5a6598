using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace NativeReload.Tests.Support;

/// <summary>One line a <see cref="RecordingLogger"/> received.</summary>
internal sealed record LogEntry(LogLevel Level, int EventId, string Message, Exception? Exception = null);

/// <summary>An <see cref="ILogger"/> that keeps every line, for tests that check what the library says and when.</summary>
internal sealed class RecordingLogger : ILogger
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    /// <summary>Every line so far, in order.</summary>
    public List<LogEntry> Entries => [.. _entries];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _entries.Enqueue(new LogEntry(logLevel, eventId.Id, formatter(state, exception), exception));

    /// <summary>The event ids so far, in order.</summary>
    public int[] Ids() => _entries.Select(e => e.EventId).ToArray();

    /// <summary>The texts of the lines with event id <paramref name="id"/>.</summary>
    public string[] Lines(int id) => _entries.Where(e => e.EventId == id).Select(e => e.Message).ToArray();
}
