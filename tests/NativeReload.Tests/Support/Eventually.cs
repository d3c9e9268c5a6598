namespace NativeReload.Tests.Support;

/// <summary>
/// Waits for behaviour, not for time: polls a condition until it holds or a generous deadline passes (the deadline
/// only bounds a failing test; passing tests return as soon as the condition holds).
/// </summary>
internal static class Eventually
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    public static void That(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        // The monotonic clock: a wall-clock step (NTP in a VM) must neither end the wait early nor stretch it.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        TimeSpan limit = timeout ?? DefaultTimeout;
        while (!condition())
        {
            if (waited.Elapsed > limit)
            {
                Assert.Fail($"timed out waiting for: {what}");
            }

            Thread.Sleep(5);
        }
    }
}
