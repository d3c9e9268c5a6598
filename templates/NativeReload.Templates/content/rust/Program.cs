// A host that hot-reloads its native library: edit native/src/lib.rs, save, and the next line shows your change.
// Run it from this folder: `dotnet run` (or `dotnet run -- <ticks> <interval-ms>` to stop after a number of ticks).
using NativeReload.Binding;
using NativeReload.Loading;

const string Sources = "native";
string library = Path.Combine(Sources, "target", "release", LibraryNaming.FileName("hostlib"));
string build = $"cargo build --offline --release --manifest-path {Path.Combine(Sources, "Cargo.toml")}";

return await NativeHost.Host.RunAsync(library, build, Sources, args);

/// <summary>The exports of native/src/lib.rs, declared once; the NativeReload package generates the calls.</summary>
[NativeExports]
internal sealed partial class HostLib
{
    [Export("get_message")]
    public partial string GetMessage();
}
