namespace NativeReload.Cli.Running;

/// <summary>What <c>nativereload run</c> was asked to do, after parsing.</summary>
/// <param name="LibraryPath">The library file to load and watch.</param>
/// <param name="Export">The export to call each tick (<c>const char* name(void)</c>).</param>
/// <param name="Interval">Time between two calls.</param>
/// <param name="Count">How many calls before exiting; null for no limit.</param>
internal sealed record RunSettings(string LibraryPath, string Export, TimeSpan Interval, long? Count);
