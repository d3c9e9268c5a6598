// A game-loop host: the library is reloaded in the background, and the new build takes over at the top of a frame.
// Usage: GameLoopHost <library> [frames]   (e.g. build/lib/libgreeter.so 10)
using NativeReload.Calling;
using NativeReload.Loading;
using NativeReload.Reloading;

using var game = new ReloadableLibrary<Game>(args[0], exports => new Game(exports),
    new ReloadableLibraryOptions { ApplyMode = ApplyMode.AtSafePoint });
game.ReloadFailed += (_, e) => Console.Error.WriteLine($"reload failed: {e.FilePath}: {e.Detail}");

int frames = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : int.MaxValue;
for (int frame = 0; frame < frames; frame++)
{
    game.ApplyPendingReload();                  // the safe point: a new build takes over here, never mid-frame
    Game exports = game.Current.Exports;        // cached for the frame: each call is one indirect call
    Console.WriteLine($"frame {frame}: {exports.Message()} (2 + 3 = {exports.Add(2, 3)})");
    Thread.Sleep(16);
}

/// <summary>The exports this host uses, resolved once per generation.</summary>
internal sealed unsafe class Game(ExportResolver exports)
{
    private readonly delegate* unmanaged[Cdecl]<byte*> _getMessage = (delegate* unmanaged[Cdecl]<byte*>)exports.Require("get_message");
    private readonly delegate* unmanaged[Cdecl]<int, int, int> _add = (delegate* unmanaged[Cdecl]<int, int, int>)exports.Require("add");

    public string Message() => NativeUtf8.Decode(_getMessage());

    public int Add(int a, int b) => _add(a, b);
}
