using System.Diagnostics;
using System.Runtime.InteropServices;
using NativeReload.Validation;
using NUnit.Framework;

namespace NativeReload.Tests.Validation;

/// <summary>Checks real files of this Linux machine (the synthetic tests cover every format on every OS).</summary>
[TestFixture]
[Platform("Linux")]
public sealed class RealFileTests
{
    private static readonly string[] CrtObjectCandidates =
        ["/usr/lib/x86_64-linux-gnu/crt1.o", "/usr/lib/aarch64-linux-gnu/crt1.o", "/usr/lib64/crt1.o", "/usr/lib/crt1.o"];

    private static string CoreClrPath =>
        Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "libcoreclr.so");

    private static Architecture OtherArchitecture =>
        RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? Architecture.X64 : Architecture.Arm64;

    [Test]
    public void CheckForCurrentProcess_ReportsOk_ForLoadedLibCoreClr()
    {
        byte[] image = File.ReadAllBytes(CoreClrPath);

        ImageCheckResult result = LibraryImageInspector.CheckForCurrentProcess(image);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Ok), result.Reason);
        Assert.That(result.Format, Is.EqualTo(BinaryFormat.Elf));
    }

    [Test]
    public void CheckForCurrentProcess_ReportsOk_ForLoadedLibC()
    {
        string? libc = File.ReadLines("/proc/self/maps")
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length >= 6 && fields[5].StartsWith('/'))
            .Select(fields => fields[5])
            .FirstOrDefault(path => Path.GetFileName(path).StartsWith("libc.so", StringComparison.Ordinal)
                || Path.GetFileName(path).StartsWith("libc-", StringComparison.Ordinal));
        Assume.That(libc, Is.Not.Null, "libc is not mapped (not glibc?)");

        ImageCheckResult result = LibraryImageInspector.CheckForCurrentProcess(File.ReadAllBytes(libc!));

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Ok), result.Reason);
    }

    [Test]
    public void CheckForCurrentProcess_ReportsIncomplete_ForFirstHalfOfLibCoreClr()
    {
        byte[] image = File.ReadAllBytes(CoreClrPath);

        ImageCheckResult result = LibraryImageInspector.CheckForCurrentProcess(image.AsSpan(0, image.Length / 2));

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete), result.Reason);
    }

    [Test]
    public void CheckForCurrentProcess_ReportsIncomplete_ForLibCoreClrMissingItsLast2KB()
    {
        // glibc loads such a file silently; the inspector must not.
        byte[] image = File.ReadAllBytes(CoreClrPath);

        ImageCheckResult result = LibraryImageInspector.CheckForCurrentProcess(image.AsSpan(0, image.Length - 2048));

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.Incomplete), result.Reason);
    }

    [Test]
    public void Check_ReportsWrongArchitecture_ForLibCoreClrAgainstAnotherArchitecture()
    {
        byte[] image = File.ReadAllBytes(CoreClrPath);

        ImageCheckResult result = LibraryImageInspector.Check(image, BinaryFormat.Elf, OtherArchitecture);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.WrongArchitecture), result.Reason);
    }

    [Test]
    public void Check_ReportsNotALibrary_ForLibCoreClrWhenPeIsExpected()
    {
        ImageCheckResult result = LibraryImageInspector.Check(File.ReadAllBytes(CoreClrPath), BinaryFormat.Pe, RuntimeInformation.ProcessArchitecture);

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.NotALibrary));
    }

    [Test]
    public void CheckForCurrentProcess_ReportsNotALibrary_ForRelocatableObjectFile()
    {
        // crt1.o ships with the C library's development files: an ET_REL object, never loadable.
        string? objectFile = CrtObjectCandidates.FirstOrDefault(File.Exists);
        Assume.That(objectFile, Is.Not.Null, "no crt1.o on this machine");

        ImageCheckResult result = LibraryImageInspector.CheckForCurrentProcess(File.ReadAllBytes(objectFile!));

        Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.NotALibrary), result.Reason);
        Assert.That(result.Reason, Does.Contain("ET_REL"));
    }

    [Test]
    public void CheckForCurrentProcess_ReportsNotALibrary_ForNonPieExecutable()
    {
        // A PIE executable (most of /usr/bin today) is ET_DYN like a shared object and passes this check by design;
        // a classic non-PIE executable is ET_EXEC. Build one if a C compiler is available.
        string directory = Directory.CreateTempSubdirectory("nativereload-validation-").FullName;
        try
        {
            string source = Path.Combine(directory, "main.c");
            string output = Path.Combine(directory, "main");
            File.WriteAllText(source, "int main(void) { return 0; }\n");
            bool built = TryRun("cc", ["-no-pie", "-o", output, source]);
            Assume.That(built && File.Exists(output), "no C compiler able to build a non-PIE executable");

            ImageCheckResult result = LibraryImageInspector.CheckForCurrentProcess(File.ReadAllBytes(output));

            Assert.That(result.Verdict, Is.EqualTo(ImageVerdict.NotALibrary), result.Reason);
            Assert.That(result.Reason, Does.Contain("ET_EXEC"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public void CheckForCurrentProcess_ReportsNotALibrary_ForShellScript()
    {
        Assume.That(File.Exists("/usr/bin/ldd"), "no /usr/bin/ldd script");
        byte[] image = File.ReadAllBytes("/usr/bin/ldd");
        Assume.That(image.AsSpan().StartsWith("#!"u8), "/usr/bin/ldd is not a script here");

        ImageCheckResult result = LibraryImageInspector.CheckForCurrentProcess(image);

        Assert.That(result.Reason, Does.StartWith("not a shared library: starts with 23 21"));
    }

    private static bool TryRun(string fileName, string[] arguments)
    {
        try
        {
            var start = new ProcessStartInfo(fileName) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (string argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            using Process process = Process.Start(start)!;
            process.StandardOutput.ReadToEnd();
            process.StandardError.ReadToEnd();
            return process.WaitForExit(60_000) && process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
