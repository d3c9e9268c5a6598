using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NativeReload.Loading;

namespace NativeReload.Generators.Tests;

/// <summary>
/// The NativeCall path (a project that keeps unsafe code off) against real libraries: the code is generated and
/// compiled here with unsafe code disallowed, loaded, and run against the greeter fixtures and glibc. The other path
/// (direct function pointers) runs in tests/NativeReload.Tests/Binding, whose project allows unsafe code.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class SafePathEndToEndTests
{
    private const string Source = """
        using System;
        using System.IO;
        using System.Runtime.InteropServices;
        using NativeReload.Binding;
        using NativeReload.Loading;
        using NativeReload.Reloading;

        [NativeExports]
        public sealed partial class Greeter
        {
            [Export("get_message")] public partial string GetMessage();
            [Export("add")] public partial int Add(int a, int b);
            [Export("get_version", Optional = true)] public partial int GetVersion();
            [Export("not_there", Optional = true)] public partial int NotThere();
        }

        [NativeExports]
        public sealed partial class Libc
        {
            [Export("abs", CallingConvention = CallingConvention.StdCall)] public partial int Abs(int v);
            [Export("llabs")] public partial long LongAbs(long v);
            [Export("ldexpf")] public partial float LdExpF(float v, int e);
            [Export("isalpha")][return: MarshalAs(UnmanagedType.Bool)] public partial bool IsAlpha(int c);
            [Export("div")] public partial Div Divide(int n, int d);
            [Export("strlen")] public partial nuint StrLen([Utf8] string s);
            [Export("strcmp")] public partial int StrCmp([Utf8] string a, [Utf8] string b);
            [Export("strnlen")] public partial nuint StrNLen(ReadOnlySpan<byte> s);
            [Export("getcwd")] public partial nint GetCwd(Span<byte> buffer);
            [Export("strerror")] public partial string StrError(int e);
        }

        public struct Div { public int Quot; public int Rem; }

        public static class Probe
        {
            public static string Greeter(string path, string v2)
            {
                using var library = global::Greeter.Load(path, new ReloadableLibraryOptions { WatchForChanges = false });
                string before;
                using (var scope = library.Enter())
                {
                    before = $"{scope.Exports.GetMessage()}|{scope.Exports.Add(1, 2)}|{scope.Exports.GetVersion()}|{scope.Exports.IsNotThereAvailable}";
                }

                string temporary = path + ".new";
                File.Copy(v2, temporary);
                File.Move(temporary, path, overwrite: true);
                if (library.Reload() != ReloadOutcome.Loaded) return "reload failed: " + library.LastFailure?.Message;
                global::Greeter now = library.Current.Exports;
                string missing;
                try { now.NotThere(); missing = "no exception"; } catch (EntryPointNotFoundException e) { missing = e.Message; }
                return $"{before}|{now.GetMessage()}|{now.Add(1, 2)}|{now.GetVersion()}|{missing}";
            }

            public static string Libc(ExportResolver exports)
            {
                var c = global::Libc.Bind(exports);
                Span<byte> cwd = stackalloc byte[4096];
                c.GetCwd(cwd);
                string longText = new string('é', 300);
                return string.Join("|",
                    c.Abs(-42), c.LongAbs(-5_000_000_000), c.LdExpF(0.75f, 2), c.IsAlpha('x'), c.IsAlpha('7'),
                    c.Divide(17, 5).Quot, c.Divide(17, 5).Rem, c.StrLen("héllo"), c.StrLen(longText), c.StrCmp("abc", "abc"),
                    c.StrNLen("hello\0world"u8), c.StrNLen(ReadOnlySpan<byte>.Empty),
                    System.Text.Encoding.UTF8.GetString(cwd[..cwd.IndexOf((byte)0)]) == Directory.GetCurrentDirectory(),
                    c.StrError(0).Length > 0);
            }
        }
        """;

    private static Assembly? s_compiled;

    private static Type Probe()
    {
        if (s_compiled is null)
        {
            CSharpCompilation compilation = CSharpCompilation.Create(
                "SafePathUser",
                [CSharpSyntaxTree.ParseText(Source, new CSharpParseOptions(LanguageVersion.Latest))],
                GeneratorHarness.References,
                new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: false, nullableContextOptions: NullableContextOptions.Enable));
            CSharpGeneratorDriver.Create(new NativeExportsGenerator())
                .RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out _);
            using var image = new MemoryStream();
            var emitted = output.Emit(image);
            Assert.That(emitted.Success, Is.True, string.Join("\n", emitted.Diagnostics));
            s_compiled = Assembly.Load(image.ToArray());
        }

        return s_compiled.GetType("Probe")!;
    }

    [Test]
    public void WithoutUnsafeCode_TheGeneratedGreeter_CallsTheFixture_AndTheNewBuildAfterAReload()
    {
        string fixtures = Path.Combine(BuildDir(), "fixtures");
        string v1 = Path.Combine(fixtures, LibraryNaming.FileName("greeter_v1"));
        string v2 = Path.Combine(fixtures, LibraryNaming.FileName("greeter_v2"));
        if (!File.Exists(v1) || !File.Exists(v2))
        {
            Assert.Fail($"fixtures {v1} and {v2} are missing: build the native side first (./build.sh)");
        }

        DirectoryInfo dir = Directory.CreateTempSubdirectory("nativereload-gen-");
        try
        {
            string path = Path.Combine(dir.FullName, LibraryNaming.FileName("target"));
            File.Copy(v1, path);
            string result = (string)Probe().GetMethod("Greeter")!.Invoke(null, [path, v2])!;
            Assert.That(result, Does.StartWith("Hello from v1|1003|1|False|Hello from v2|2003|2|export 'not_there' is not in " + path));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Test]
    public void WithoutUnsafeCode_EveryShape_ReachesRealCFunctions()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("binds glibc's libc.so.6");
        }

        nint handle = NativeLibrary.Load("libc.so.6");
        var exports = (ExportResolver)Activator.CreateInstance(
            typeof(ExportResolver), BindingFlags.NonPublic | BindingFlags.Instance, null, [handle, "libc.so.6", 1L], null)!;
        string result = (string)Probe().GetMethod("Libc")!.Invoke(null, [exports])!;
        Assert.That(result, Is.EqualTo("42|5000000000|3|True|False|3|2|6|600|0|5|0|True|True"));
    }

    /// <summary>The CMake build directory, as tests/NativeReload.Tests finds it: NATIVERELOAD_BUILD_DIR, else build/ in the repository.</summary>
    private static string BuildDir()
    {
        if (Environment.GetEnvironmentVariable("NATIVERELOAD_BUILD_DIR") is { Length: > 0 } buildDir)
        {
            return buildDir;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NativeReload.sln")))
            {
                return Path.Combine(dir.FullName, "build");
            }
        }

        throw new InvalidOperationException("NativeReload.sln not found above " + AppContext.BaseDirectory);
    }
}
