namespace NativeReload.Tests.Concurrency;

/// <summary>
/// What one call scope observed, and whether it is the whole of one generation: the version, add's bias and the message
/// all name the same build, that build is the one the generation number says was loaded, and the generation was alive
/// before and after the calls.
/// </summary>
internal readonly record struct Observation(long Generation, bool RetiredBefore, int Version, int Sum, string Message, bool RetiredAfter)
{
    /// <summary>The greeter fixtures' add bias: a + b + 1000 × version.</summary>
    public const int A = 20;
    public const int B = 22;

    /// <summary>Null when consistent, else what was wrong.</summary>
    /// <param name="expectedVersion">The build that generation <see cref="Generation"/> must be, from the test's reload order.</param>
    public string? Problem(int expectedVersion)
    {
        if (RetiredBefore || RetiredAfter)
        {
            return $"generation {Generation} was retired while a scope held it (before: {RetiredBefore}, after: {RetiredAfter})";
        }

        if (Version != expectedVersion)
        {
            return $"generation {Generation} answered get_version {Version}, but it was loaded from v{expectedVersion}";
        }

        if (Sum != A + B + (1000 * Version))
        {
            return $"generation {Generation}: add({A},{B}) = {Sum} does not match get_version {Version} (expected {A + B + (1000 * Version)})";
        }

        if (Message != $"Hello from v{Version}")
        {
            return $"generation {Generation}: message '{Message}' does not match get_version {Version}";
        }

        return null;
    }
}
