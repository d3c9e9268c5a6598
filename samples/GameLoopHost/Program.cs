// A game-loop host: the library is reloaded in the background, and the new build takes over at the top of a frame.
// Usage: GameLoopHost <library> [frames]   (e.g. build/lib/libgreeter.so 10)
using NativeReload.Binding;
using NativeReload.Reloading;

using var game = Game.Load(args[0], new ReloadableLibraryOptions { ApplyMode = ApplyMode.AtSafePoint });
game.ReloadFailed += (_, e) => Console.Error.WriteLine($"reload failed: {e.FilePath}: {e.Detail}");

int frames = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : int.MaxValue;
for (int frame = 0; frame < frames; frame++)
{
    game.ApplyPendingReload();                  // the safe point: a new build takes over here, never mid-frame
    Game exports = game.Current.Exports;        // cached for the frame: each call is one indirect call
    Console.WriteLine($"frame {frame}: {exports.Message()} (2 + 3 = {exports.Add(2, 3)})");
    Thread.Sleep(16);
}

/// <summary>The exports this host uses: declared once; the package's generator writes the table and the calls.</summary>
[NativeExports]
internal sealed partial class Game
{
    /// <summary><c>const char* get_message(void)</c>, copied out while the generation is alive.</summary>
    [Export("get_message")]
    public partial string Message();

    /// <summary><c>int add(int, int)</c>.</summary>
    [Export("add")]
    public partial int Add(int a, int b);
}
