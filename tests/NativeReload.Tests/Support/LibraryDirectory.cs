using NativeReload.Loading;

namespace NativeReload.Tests.Support;

/// <summary>
/// A temporary directory holding one library path that tests replace the ways real builds do: rename over it
/// (lld, mold, atomic deploys), unlink and create (GNU ld, cargo), or truncate and write in place (cp).
/// </summary>
internal sealed class LibraryDirectory : IDisposable
{
    public LibraryDirectory(string name = "target")
    {
        Path = Directory.CreateTempSubdirectory("nativereload-test-").FullName;
        LibraryPath = System.IO.Path.Combine(Path, LibraryNaming.FileName(name));
    }

    public string Path { get; }

    /// <summary>The path the host loads and watches.</summary>
    public string LibraryPath { get; }

    /// <summary>Puts <paramref name="fixture"/> at the path by writing a temporary file and renaming it over the path.</summary>
    public void ReplaceByRename(string fixture) => ReplaceByRename(File.ReadAllBytes(TestPaths.Fixture(fixture)));

    public void ReplaceByRename(byte[] content)
    {
        string temporary = LibraryPath + ".tmp" + Guid.NewGuid().ToString("N");
        File.WriteAllBytes(temporary, content);
        File.Move(temporary, LibraryPath, overwrite: true);
    }

    /// <summary>Deletes the file and creates a new one (new inode), like GNU ld.</summary>
    public void ReplaceByUnlinkAndCreate(string fixture)
    {
        byte[] content = File.ReadAllBytes(TestPaths.Fixture(fixture));
        File.Delete(LibraryPath);
        File.WriteAllBytes(LibraryPath, content);
    }

    /// <summary>Truncates the existing file and writes the new content into it (same inode), like <c>cp</c>.</summary>
    public void OverwriteInPlace(string fixture) => OverwriteInPlace(File.ReadAllBytes(TestPaths.Fixture(fixture)));

    public void OverwriteInPlace(byte[] content)
    {
        using var stream = new FileStream(LibraryPath, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        stream.SetLength(0);
        stream.Write(content);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // best effort: a test's temp dir
        }
    }
}
