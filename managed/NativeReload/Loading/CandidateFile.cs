using System.Security.Cryptography;
using NativeReload.Reloading;
using NativeReload.Validation;
using NativeReload.Watching;

namespace NativeReload.Loading;

/// <summary>
/// The complete, validated bytes of a library file, read in one go. The shadow copy is written from these
/// bytes, so what is loaded is exactly what was checked: nothing can swap the file between check and load.
/// </summary>
internal sealed class CandidateFile
{
    private CandidateFile(string filePath, FileStamp stamp, byte[] content, string contentHash, ElfDynamicInfo? dynamic)
    {
        FilePath = filePath;
        Stamp = stamp;
        Content = content;
        ContentHash = contentHash;
        Dynamic = dynamic;
    }

    public string FilePath { get; }

    public FileStamp Stamp { get; }

    public byte[] Content { get; }

    public string ContentHash { get; }

    /// <summary>The soname and <c>STB_GNU_UNIQUE</c> symbols of an ELF file; null for PE and Mach-O.</summary>
    public ElfDynamicInfo? Dynamic { get; }

    /// <summary>
    /// Reads <paramref name="filePath"/> and checks that it is a complete library for this process.
    /// </summary>
    /// <exception cref="LibraryLoadException">The file is missing, unreadable, changing, incomplete or not a library.</exception>
    public static CandidateFile Read(string filePath)
    {
        FileStamp before = FileStamp.Capture(filePath);
        if (!before.Exists)
        {
            string detail = before.LinkTarget is null
                ? "file not found"
                : $"dangling symbolic link (target {before.LinkTarget} does not exist)";
            throw new LibraryLoadException(filePath, ReloadFailureReason.FileMissing, detail);
        }

        if (!before.IsRegularFile)
        {
            throw new LibraryLoadException(filePath, ReloadFailureReason.NotAFile, "is a directory, not a library file");
        }

        byte[] content;
        try
        {
            content = File.ReadAllBytes(before.ResolvedPath);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new LibraryLoadException(filePath, ReloadFailureReason.AccessDenied, "permission denied (cannot read the file)", e);
        }
        catch (FileNotFoundException e)
        {
            throw new LibraryLoadException(filePath, ReloadFailureReason.FileMissing, "file not found", e);
        }
        catch (IOException e)
        {
            throw new LibraryLoadException(filePath, ReloadFailureReason.IoError, $"cannot read the file: {e.Message}", e);
        }

        FileStamp after = FileStamp.Capture(filePath);
        if (after != before || content.Length != before.Length)
        {
            throw new LibraryLoadException(filePath, ReloadFailureReason.Incomplete, "file changed while it was being read (still being written)");
        }

        ImageCheckResult check = LibraryImageInspector.CheckForCurrentProcess(content);
        if (!check.IsOk)
        {
            ReloadFailureReason reason = check.Verdict switch
            {
                ImageVerdict.Empty => ReloadFailureReason.Empty,
                ImageVerdict.Incomplete => ReloadFailureReason.Incomplete,
                ImageVerdict.WrongArchitecture => ReloadFailureReason.WrongArchitecture,
                _ => ReloadFailureReason.NotALibrary,
            };
            throw new LibraryLoadException(filePath, reason, check.Reason);
        }

        ElfDynamicInfo? dynamic = check.Format == BinaryFormat.Elf ? ElfDynamicReader.Read(content) : null;
        return new CandidateFile(filePath, before, content, Convert.ToHexStringLower(SHA256.HashData(content)), dynamic);
    }
}
