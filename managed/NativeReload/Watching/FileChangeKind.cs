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
}
