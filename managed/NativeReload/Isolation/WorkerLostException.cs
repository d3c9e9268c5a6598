namespace NativeReload.Isolation;

/// <summary>How the channel to a worker was lost; each is reported as what it is.</summary>
internal enum WorkerLoss
{
    /// <summary>The channel closed or was reset: the worker exited or was killed.</summary>
    Died,

    /// <summary>No (whole) answer within the timeout, or the worker stopped reading a request.</summary>
    TimedOut,

    /// <summary>The worker sent something that is not a valid answer: it cannot be trusted to be in step any more.</summary>
    BrokeProtocol,
}

/// <summary>Internal signal: the channel to the worker broke (it died), it did not answer in time, or it answered garbage.</summary>
internal sealed class WorkerLostException(WorkerLoss loss, string detail, Exception? inner = null) : Exception(detail, inner)
{
    public WorkerLoss Loss { get; } = loss;

    public bool TimedOut => Loss == WorkerLoss.TimedOut;

    /// <summary>For <see cref="WorkerLoss.BrokeProtocol"/>: what was wrong (<c>bad frame length 4294967295</c>).</summary>
    public string Detail { get; } = detail;

    public static WorkerLostException Protocol(string detail, Exception? inner = null) => new(WorkerLoss.BrokeProtocol, detail, inner);
}
