using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NativeReload;

/// <summary>
/// The host's logger, made harmless: a logger is user code, and one that throws must not abort a reload, a dispose, a
/// watcher thread or a timer callback (where an escaping exception ends the process). What it throws is dropped, since
/// there is nobody left to tell.
/// </summary>
internal sealed class SafeLogger : ILogger
{
    private readonly ILogger _inner;

    private SafeLogger(ILogger inner)
    {
        _inner = inner;
    }

    /// <summary>The logger to use for <paramref name="logger"/>: null becomes the null logger, anything else is wrapped once.</summary>
    public static ILogger Wrap(ILogger? logger) => logger switch
    {
        null => NullLogger.Instance,
        NullLogger or SafeLogger => logger,
        _ => new SafeLogger(logger),
    };

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull
    {
        try
        {
            return _inner.BeginScope(state);
        }
        catch (Exception)
        {
            return null;
        }
    }

    public bool IsEnabled(LogLevel logLevel)
    {
        try
        {
            return _inner.IsEnabled(logLevel);
        }
        catch (Exception)
        {
            return false;
        }
    }

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        try
        {
            _inner.Log(logLevel, eventId, state, exception, formatter);
        }
        catch (Exception)
        {
            // dropped: see the class remarks
        }
    }
}
