// A host that hot-reloads its native library: edit native/hostlib.c, save, and the next line shows your change.
// Run it from this folder: `dotnet run` (or `dotnet run -- <ticks> <interval-ms>` to stop after a number of ticks).
using NativeReload.Binding;
using NativeReload.Loading;

const string Sources = "native";
string buildDirectory = Path.Combine(Sources, "build");
string library = Path.Combine(buildDirectory, LibraryNaming.FileName("hostlib"));
string build = $"cmake -S {Sources} -B {buildDirectory} -DCMAKE_BUILD_TYPE=Release && cmake --build {buildDirectory} --config Release";

return await NativeHost.Host.RunAsync(library, build, Sources, args);

/// <summary>The exports of native/hostlib.c, declared once; the NativeReload package generates the calls.</summary>
[NativeExports]
internal sealed partial class HostLib
{
    [Export("get_message")]
    public partial string GetMessage();
}
