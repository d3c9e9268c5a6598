using System.Globalization;

namespace NativeReload.Cli.Running;

/// <summary>Parses intervals as users write them on a command line: <c>1s</c>, <c>250ms</c>, <c>1.5s</c>, <c>2m</c>.</summary>
internal static class IntervalParser
{
    /// <summary>Parses an interval that was already validated.</summary>
    /// <exception cref="FormatException">It is not an interval.</exception>
    public static TimeSpan Parse(string text) =>
        TryParse(text, out TimeSpan interval, out string? error) ? interval : throw new FormatException(error);

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> says what is accepted.</summary>
    public static bool TryParse(string text, out TimeSpan interval, out string? error)
    {
        interval = default;
        error = null;
        string trimmed = text.Trim();
        (string unit, double scaleMs) = trimmed switch
        {
            _ when trimmed.EndsWith("ms", StringComparison.OrdinalIgnoreCase) => ("ms", 1.0),
            _ when trimmed.EndsWith('s') || trimmed.EndsWith('S') => ("s", 1000.0),
            _ when trimmed.EndsWith('m') || trimmed.EndsWith('M') => ("m", 60_000.0),
            _ => ("", 0.0),
        };
        if (unit.Length == 0
            || !double.TryParse(trimmed.AsSpan(0, trimmed.Length - unit.Length), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value)
            || double.IsNaN(value) || value * scaleMs < 1 || value * scaleMs > TimeSpan.FromDays(1).TotalMilliseconds)
        {
            error = $"'{text}' is not an interval: use a number with ms, s or m, from 1ms to 1 day (e.g. 250ms, 1s, 1.5s, 2m)";
            return false;
        }

        interval = TimeSpan.FromMilliseconds(value * scaleMs);
        return true;
    }
}
