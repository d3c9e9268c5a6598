using Microsoft.Extensions.Logging;

namespace NativeReload.Reloading;

/// <summary>
/// What a locked step of the lifecycle has to tell the outside world (log lines, events), held until the locks are
/// released. Loggers and event handlers are user code: run under a lock, a handler that waits for
/// <see cref="IDisposable.Dispose"/> on another thread would deadlock, and one that throws would leave the lifecycle
/// half done. Delivered in order; a throwing handler or logger is reported (if the logger can) and the rest still runs.
/// </summary>
internal sealed class Outbox
{
    private List<Action>? _items;

    /// <summary>Queues <paramref name="item"/> for <see cref="Deliver"/>.</summary>
    public void Add(Action item) => (_items ??= []).Add(item);

    /// <summary>Runs everything queued, outside any lock; exceptions are logged through <paramref name="logger"/> and never escape.</summary>
    public void Deliver(ILogger logger, string file)
    {
        List<Action>? items = _items;
        _items = null;
        if (items is null)
        {
            return;
        }

        foreach (Action item in items)
        {
            try
            {
                item();
            }
            catch (Exception e)
            {
                try
                {
                    Log.HandlerError(logger, e, file);
                }
                catch (Exception)
                {
                    // The logger itself throws: there is nobody left to tell, and the library must go on.
                }
            }
        }
    }
}
