namespace NativeReload.Isolation;

/// <summary>Internal signal: the channel to the worker broke (it died) or it did not answer in time.</summary>
internal sealed class WorkerLostException(bool timedOut, Exception? inner = null)
    : Exception(timedOut ? "the worker did not answer in time" : "the worker closed the channel", inner)
{
    public bool TimedOut { get; } = timedOut;
}
