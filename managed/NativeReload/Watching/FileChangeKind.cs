namespace NativeReload.Watching;

/// <summary>How a change to the library path was noticed.</summary>
public enum FileChangeKind
{
    /// <summary>A file appeared at the path (GNU ld unlinks and creates; the new file may still be empty).</summary>
    Created,

    /// <summary>The file was written to (in place, or as part of a linker's burst of writes).</summary>
    Changed,

    /// <summary>A file was renamed onto the path (lld, mold, atomic deploys): it is complete the moment it appears.</summary>
    Renamed,

    /// <summary>The file was removed.</summary>
    Deleted,

    /// <summary>The polling fallback saw a different size, time or link target.</summary>
    Polled,

    /// <summary>
    /// A writer closed the file after writing it (Linux <c>IN_CLOSE_WRITE</c>: GNU ld, gold, <c>cp</c>, <c>install</c>):
    /// it is read at once, and the completeness checks still guard against a writer that reopens it.
    /// </summary>
    Closed,

    /// <summary>
    /// Only the file's metadata changed (mode, owner, times: the <c>chmod +x</c> a linker does after closing). Looked at
    /// again, but it does not restart the quiet period of a write still in progress nor delay a closed file.
    /// </summary>
    Attributes,
}
