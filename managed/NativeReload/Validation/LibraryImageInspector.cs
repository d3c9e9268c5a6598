using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;

namespace NativeReload.Validation;

/// <summary>
/// Pure-managed inspection of a candidate shared-library image (ELF, PE or Mach-O), done on the bytes of the
/// whole file before the file is given to the OS loader.
/// </summary>
/// <remarks>
/// <para>
/// The OS loaders trust a file's headers: glibc's <c>dlopen</c> of a truncated <c>.so</c> can kill the process
/// with SIGBUS, and a file that is missing only its tail can load silently. A linker may still be writing the
/// file when a watcher sees it. This type therefore decides, from the bytes alone, whether the image is a
/// complete shared library for the expected OS format and architecture: every range that the headers declare
/// (header tables, loadable segments, section contents, code signatures, certificates) must lie inside the image.
/// </para>
/// <para>
/// The inspector never throws on hostile input (random bytes, truncated headers, huge counts, offsets such as
/// <c>0xFFFFFFFFFFFFFFF0</c>) and allocates nothing except the reason string of a failed check.
/// </para>
/// <para>
/// A position-independent executable (PIE) is <c>ET_DYN</c>, exactly like a shared object, so an ELF PIE passes
/// the check. That is deliberate: the check protects the process from a crash in the loader, and a PIE is a
/// complete, loadable image; a missing export is reported later, when the exports are resolved.
/// </para>
/// </remarks>
public static class LibraryImageInspector
{
    private static readonly BinaryFormat CurrentOSFormat = DetectNativeFormat();

    /// <summary>
    /// Gets the format that this OS's loader expects: <see cref="BinaryFormat.Elf"/> on Linux, FreeBSD and other
    /// Unix systems, <see cref="BinaryFormat.Pe"/> on Windows and <see cref="BinaryFormat.MachO"/> on macOS and
    /// other Apple systems (where universal binaries are accepted too). <see cref="BinaryFormat.Unknown"/> on an OS
    /// without a known native library format (such as the browser).
    /// </summary>
    public static BinaryFormat NativeFormatForCurrentOS => CurrentOSFormat;

    /// <summary>
    /// Checks that <paramref name="image"/> is a complete shared library in <paramref name="expectedFormat"/> built for
    /// <paramref name="expectedArchitecture"/>.
    /// </summary>
    /// <param name="image">The whole content of the candidate file.</param>
    /// <param name="expectedFormat">
    /// The format the loader needs. <see cref="BinaryFormat.MachO"/> and <see cref="BinaryFormat.MachOUniversal"/>
    /// both accept a thin Mach-O image and a universal binary (the macOS loader takes either).
    /// </param>
    /// <param name="expectedArchitecture">The architecture of the process that will load the library.</param>
    /// <returns>The verdict, the detected format and a one-line reason; never <see langword="null"/>.</returns>
    public static ImageCheckResult Check(ReadOnlySpan<byte> image, BinaryFormat expectedFormat, Architecture expectedArchitecture)
    {
        if (image.IsEmpty)
        {
            return ImageCheckResult.Empty;
        }

        BinaryFormat format = DetectFormat(image);
        if (format == BinaryFormat.Unknown)
        {
            return CheckUnrecognised(image, expectedFormat);
        }

        if (!IsAcceptedFormat(format, expectedFormat))
        {
            return new ImageCheckResult(ImageVerdict.NotALibrary, format, WrongOSReason(format, expectedFormat));
        }

        return format switch
        {
            BinaryFormat.Elf => ElfImageChecker.Check(image, expectedArchitecture),
            BinaryFormat.Pe => PeImageChecker.Check(image, expectedArchitecture),
            BinaryFormat.MachO => MachOImageChecker.Check(image, expectedArchitecture),
            _ => MachOImageChecker.CheckUniversal(image, expectedArchitecture),
        };
    }

    /// <summary>
    /// Checks <paramref name="image"/> against <see cref="NativeFormatForCurrentOS"/> and
    /// <see cref="RuntimeInformation.ProcessArchitecture"/>.
    /// </summary>
    /// <param name="image">The whole content of the candidate file.</param>
    /// <returns>The verdict, the detected format and a one-line reason; never <see langword="null"/>.</returns>
    public static ImageCheckResult CheckForCurrentProcess(ReadOnlySpan<byte> image) =>
        Check(image, NativeFormatForCurrentOS, RuntimeInformation.ProcessArchitecture);

    /// <summary>
    /// Recognises the format of <paramref name="image"/> from its magic bytes only (nothing else is validated).
    /// </summary>
    /// <param name="image">The image, or at least its first bytes.</param>
    /// <returns>
    /// The format, or <see cref="BinaryFormat.Unknown"/> when the image is shorter than the format's magic or has
    /// no known magic. A file starting with <c>ca fe ba be</c> whose second word is above 30 is a Java class file,
    /// not a universal binary, and is reported as <see cref="BinaryFormat.Unknown"/>.
    /// </returns>
    public static BinaryFormat DetectFormat(ReadOnlySpan<byte> image)
    {
        if (image.Length >= 4)
        {
            uint bigEndianMagic = BinaryPrimitives.ReadUInt32BigEndian(image);
            switch (bigEndianMagic)
            {
                case 0x7F454C46: // "\x7fELF"
                    return BinaryFormat.Elf;
                case 0xCFFAEDFE: // MH_MAGIC_64 stored little-endian
                case 0xCEFAEDFE: // MH_MAGIC stored little-endian
                case 0xFEEDFACF: // MH_MAGIC_64 stored big-endian
                case 0xFEEDFACE: // MH_MAGIC stored big-endian
                    return BinaryFormat.MachO;
                case MachOImageChecker.FatMagic:
                case MachOImageChecker.FatMagic64:
                    // Java class files share 0xcafebabe; their next word (minor, major version) is far above any slice count.
                    return image.Length >= 8 && BinaryPrimitives.ReadUInt32BigEndian(image[4..]) > MachOImageChecker.MaxFatArchitectures
                        ? BinaryFormat.Unknown
                        : BinaryFormat.MachOUniversal;
                default:
                    break;
            }
        }

        return image.Length >= 2 && image[0] == (byte)'M' && image[1] == (byte)'Z' ? BinaryFormat.Pe : BinaryFormat.Unknown;
    }

    /// <summary>Returns whether an image in <paramref name="format"/> can be loaded where <paramref name="expected"/> is needed.</summary>
    private static bool IsAcceptedFormat(BinaryFormat format, BinaryFormat expected) => expected switch
    {
        BinaryFormat.Elf or BinaryFormat.Pe => format == expected,
        BinaryFormat.MachO or BinaryFormat.MachOUniversal => format is BinaryFormat.MachO or BinaryFormat.MachOUniversal,
        _ => false,
    };

    private static ImageCheckResult CheckUnrecognised(ReadOnlySpan<byte> image, BinaryFormat expectedFormat)
    {
        string hex = ImageBytes.FirstBytesHex(image);
        if (image.Length < 4 && IsPrefixOfKnownMagic(image))
        {
            return ImageCheckResult.Incomplete(
                BinaryFormat.Unknown,
                string.Create(CultureInfo.InvariantCulture, $"only {image.Length} bytes ({hex}), the start of a binary header"));
        }

        string expected = expectedFormat switch
        {
            BinaryFormat.Elf => "an ELF header",
            BinaryFormat.Pe => "a PE (MZ) header",
            BinaryFormat.MachO or BinaryFormat.MachOUniversal => "a Mach-O header",
            _ => "a native library header",
        };

        string hint = image.Length >= 8 && BinaryPrimitives.ReadUInt32BigEndian(image) == MachOImageChecker.FatMagic
            ? " (looks like a Java class file)"
            : string.Empty;
        return ImageCheckResult.NotALibrary(BinaryFormat.Unknown, $"starts with {hex}{hint}, expected {expected}");
    }

    /// <summary>Returns whether a span shorter than four bytes could be the beginning of a recognised magic.</summary>
    private static bool IsPrefixOfKnownMagic(ReadOnlySpan<byte> image)
    {
        ReadOnlySpan<uint> magics = [0x7F454C46, 0xCFFAEDFE, 0xCEFAEDFE, 0xFEEDFACF, 0xFEEDFACE, MachOImageChecker.FatMagic, MachOImageChecker.FatMagic64];
        Span<byte> magic = stackalloc byte[4];
        foreach (uint m in magics)
        {
            BinaryPrimitives.WriteUInt32BigEndian(magic, m);
            if (magic.StartsWith(image))
            {
                return true;
            }
        }

        return image.Length == 1 && image[0] == (byte)'M';
    }

    private static string WrongOSReason(BinaryFormat found, BinaryFormat expected)
    {
        string what = found switch
        {
            BinaryFormat.Elf => "an ELF image (Linux/Unix)",
            BinaryFormat.Pe => "a Windows PE image",
            BinaryFormat.MachO => "a macOS Mach-O image",
            _ => "a macOS universal (fat) Mach-O binary",
        };

        string? needed = expected switch
        {
            BinaryFormat.Elf => "ELF",
            BinaryFormat.Pe => "a PE DLL",
            BinaryFormat.MachO or BinaryFormat.MachOUniversal => "Mach-O",
            _ => null,
        };

        if (needed is null)
        {
            return $"not a library for this OS: {what}, and no native library format is known for this OS";
        }

        bool expectedIsThisOS = expected == CurrentOSFormat || (IsMachOFamily(expected) && IsMachOFamily(CurrentOSFormat));
        return expectedIsThisOS
            ? $"not a library for this OS: {what}, this process runs on {CurrentOSName()} and needs {needed}"
            : $"not a library for this OS: {what}, expected {needed}";
    }

    private static bool IsMachOFamily(BinaryFormat format) => format is BinaryFormat.MachO or BinaryFormat.MachOUniversal;

    private static string CurrentOSName()
    {
        if (OperatingSystem.IsLinux())
        {
            return "Linux";
        }

        if (OperatingSystem.IsWindows())
        {
            return "Windows";
        }

        if (OperatingSystem.IsMacOS())
        {
            return "macOS";
        }

        if (OperatingSystem.IsFreeBSD())
        {
            return "FreeBSD";
        }

        return RuntimeInformation.OSDescription;
    }

    private static BinaryFormat DetectNativeFormat()
    {
        if (OperatingSystem.IsWindows())
        {
            return BinaryFormat.Pe;
        }

        if (OperatingSystem.IsMacOS() || OperatingSystem.IsMacCatalyst() || OperatingSystem.IsIOS() || OperatingSystem.IsTvOS() || OperatingSystem.IsWatchOS())
        {
            return BinaryFormat.MachO;
        }

        if (OperatingSystem.IsLinux() || OperatingSystem.IsFreeBSD() || OperatingSystem.IsAndroid()
            || RuntimeInformation.IsOSPlatform(OSPlatform.Create("ILLUMOS")) || RuntimeInformation.IsOSPlatform(OSPlatform.Create("SOLARIS"))
            || RuntimeInformation.IsOSPlatform(OSPlatform.Create("NETBSD")) || RuntimeInformation.IsOSPlatform(OSPlatform.Create("OPENBSD")))
        {
            return BinaryFormat.Elf;
        }

        return BinaryFormat.Unknown;
    }
}
