namespace NativeReload.Validation;

/// <summary>The container format of a binary image, as recognised from its leading magic bytes.</summary>
public enum BinaryFormat
{
    /// <summary>No format recognised (or, as an expected format, no native library format is known for the OS).</summary>
    Unknown = 0,

    /// <summary>ELF, the format of shared objects (<c>.so</c>) on Linux, FreeBSD and other Unix systems.</summary>
    Elf,

    /// <summary>PE/COFF, the format of Windows DLLs (<c>.dll</c>).</summary>
    Pe,

    /// <summary>A thin (single-architecture) Mach-O image, the format of macOS dylibs and bundles.</summary>
    MachO,

    /// <summary>A universal ("fat") Mach-O binary that holds one Mach-O slice per architecture.</summary>
    MachOUniversal,
}
