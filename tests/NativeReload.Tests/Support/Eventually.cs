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
        DateTime deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out waiting for: {what}");
            }

            Thread.Sleep(5);
        }
    }
}
