using System.Runtime.InteropServices;
using NativeReload.Binding;
using NativeReload.Loading;
using NativeReload.Reloading;
using NativeReload.Tests.Support;

namespace NativeReload.Tests.Binding;

/// <summary>The greeter fixtures' exports declared once; the source generator writes the table and the calls.</summary>
[NativeExports]
public sealed partial class GeneratedGreeter
{
    /// <summary>const char* get_message(void), decoded through the pooled UTF-8 decoder.</summary>
    [Export("get_message")]
    public partial string GetMessage();

    /// <summary>int add(int, int): a + b + 1000 in v1, + 2000 in v2.</summary>
    [Export("add")]
    public partial int Add(int a, int b);

    /// <summary>int get_version(void), optional.</summary>
    [Export("get_version", Optional = true)]
    public partial int GetVersion();

    /// <summary>An export no fixture has.</summary>
    [Export("greeter_not_there", Optional = true)]
    public partial void NotThere();
}

/// <summary>
/// C library functions with the shapes the generator supports: floats and integers of several widths, bool with a
/// stated size, a struct returned by value, spans as pointer + count, UTF-8 strings in, a const char* out, a
/// non-default calling convention.
/// </summary>
[NativeExports]
public sealed partial class LibcShapes
{
    /// <summary>int abs(int).</summary>
    [Export("abs")]
    public partial int Abs(int value);

    /// <summary>long long llabs(long long).</summary>
    [Export("llabs")]
    public partial long LongAbs(long value);

    /// <summary>abs again, declared stdcall: the runtime maps it to the platform convention on x64.</summary>
    [Export("abs", CallingConvention = CallingConvention.StdCall)]
    public partial int AbsStdCall(int value);

    /// <summary>int toupper(int), with the argument widened from a byte.</summary>
    [Export("toupper")]
    public partial int ToUpper(int c);

    /// <summary>int isalpha(int): a 4-byte truth value.</summary>
    [Export("isalpha")]
    [return: MarshalAs(UnmanagedType.Bool)]
    public partial bool IsAlpha(int c);

    /// <summary>div_t div(int, int), returned by value.</summary>
    [Export("div")]
    public partial DivResult Divide(int numerator, int denominator);

    /// <summary>size_t strlen(const char*).</summary>
    [Export("strlen")]
    public partial nuint StrLen([Utf8] string text);

    /// <summary>int strcmp(const char*, const char*).</summary>
    [Export("strcmp")]
    public partial int StrCmp([Utf8] string left, [Utf8] string right);

    /// <summary>size_t strnlen(const char* s, size_t maxlen): a span passed as pointer + size_t count.</summary>
    [Export("strnlen")]
    public partial nuint StrNLen(ReadOnlySpan<byte> text);

    /// <summary>char* getcwd(char* buf, size_t size): a writable span the C side fills.</summary>
    [Export("getcwd")]
    public partial nint GetCwd(Span<byte> buffer);

    /// <summary>char* strerror(int): a const char* the library owns.</summary>
    [Export("strerror")]
    public partial string StrError(int error);

    /// <summary>double ldexp(double, int).</summary>
    [Export("ldexp")]
    public partial double LdExp(double value, int exponent);

    /// <summary>float ldexpf(float, int).</summary>
    [Export("ldexpf")]
    public partial float LdExpF(float value, int exponent);
}

/// <summary>C's div_t.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DivResult
{
    /// <summary>The quotient.</summary>
    public int Quotient;

    /// <summary>The remainder.</summary>
    public int Remainder;
}

[TestFixture]
[NonParallelizable]
public sealed class GeneratedBindingTests
{
    private LibraryDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new LibraryDirectory();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public void GeneratedLoad_CallsTheFixture_AtASafePointAndInsideAScope()
    {
        _dir.ReplaceByRename("greeter_v1");
        using ReloadableLibrary<GeneratedGreeter> library = GeneratedGreeter.Load(_dir.LibraryPath, new ReloadableLibraryOptions { WatchForChanges = false });

        Assert.Multiple(() =>
        {
            Assert.That(library.Current.Exports.GetMessage(), Is.EqualTo("Hello from v1"));
            Assert.That(library.Current.Exports.Add(1, 2), Is.EqualTo(1003));
        });
        using var scope = library.Enter();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(scope.Exports.GetMessage(), Is.EqualTo("Hello from v1"));
            Assert.That(scope.Exports.Add(20, 22), Is.EqualTo(1042));
            Assert.That(scope.Exports.GetVersion(), Is.EqualTo(1));
        }
    }

    [Test]
    public void GeneratedBinding_RunsTheNewCode_AfterAReloadToV2()
    {
        _dir.ReplaceByRename("greeter_v1");
        using var library = GeneratedGreeter.Load(_dir.LibraryPath, new ReloadableLibraryOptions { WatchForChanges = false });
        Assert.That(library.Current.Exports.Add(1, 2), Is.EqualTo(1003));

        _dir.ReplaceByRename("greeter_v2");
        Assert.That(library.Reload(), Is.EqualTo(ReloadOutcome.Loaded));

        using var scope = library.Enter();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(scope.Exports.GetMessage(), Is.EqualTo("Hello from v2"));
            Assert.That(scope.Exports.Add(1, 2), Is.EqualTo(2003), "add must come from v2 (bias 2000)");
            Assert.That(scope.Exports.GetVersion(), Is.EqualTo(2));
            Assert.That(scope.Generation.Number, Is.EqualTo(2));
        }
    }

    [Test]
    public void GeneratedBinding_PicksUpTheNewBuild_WhenTheWatcherSeesIt()
    {
        _dir.ReplaceByRename("greeter_v1");
        using var library = GeneratedGreeter.Load(_dir.LibraryPath);
        _dir.ReplaceByRename("greeter_v2");
        Eventually.That(() =>
        {
            using var scope = library.Enter();
            return scope.Exports.GetMessage() == "Hello from v2";
        }, "the v2 message through the generated binding");
    }

    [Test]
    public void GeneratedBinding_RefusesABuild_WithoutARequiredExport_NamingIt()
    {
        _dir.ReplaceByRename("greeter_nomsg");
        var failure = Assert.Throws<LibraryLoadException>(() => GeneratedGreeter.Load(_dir.LibraryPath, new ReloadableLibraryOptions { WatchForChanges = false }).Dispose());
        Assert.That(failure!.Message, Does.Contain("get_message"));
    }

    [Test]
    public void OptionalExport_ThatIsAbsent_SaysSo_AndThrowsNamingItWhenCalled()
    {
        _dir.ReplaceByRename("greeter_v1");
        using var library = GeneratedGreeter.Load(_dir.LibraryPath, new ReloadableLibraryOptions { WatchForChanges = false });
        GeneratedGreeter exports = library.Current.Exports;

        Assert.Multiple(() =>
        {
            Assert.That(exports.IsGetVersionAvailable, Is.True);
            Assert.That(exports.IsNotThereAvailable, Is.False);
        });
        var missing = Assert.Throws<EntryPointNotFoundException>(exports.NotThere);
        Assert.That(missing!.Message, Does.Contain("'greeter_not_there'").And.Contain(_dir.LibraryPath).And.Contain("IsNotThereAvailable"));
    }

    [Test]
    public void Bind_WorksAsTheBindCallback_OfAHandMadeReloadableLibrary()
    {
        _dir.ReplaceByRename("greeter_v2");
        using var library = new ReloadableLibrary<GeneratedGreeter>(_dir.LibraryPath, GeneratedGreeter.Bind, new ReloadableLibraryOptions { WatchForChanges = false });
        Assert.That(library.Current.Exports.GetMessage(), Is.EqualTo("Hello from v2"));
    }

    [Test]
    public void GeneratedCalls_PassEveryShape_ToRealCFunctions()
    {
        LibcShapes libc = BindLibc();
        Assert.Multiple(() =>
        {
            Assert.That(libc.Abs(-42), Is.EqualTo(42));
            Assert.That(libc.AbsStdCall(-7), Is.EqualTo(7));
            Assert.That(libc.LongAbs(-5_000_000_000L), Is.EqualTo(5_000_000_000L));
            Assert.That(libc.ToUpper('q'), Is.EqualTo('Q'));
            Assert.That(libc.IsAlpha('x'), Is.True);
            Assert.That(libc.IsAlpha('7'), Is.False);
            Assert.That(libc.Divide(17, 5), Is.EqualTo(new DivResult { Quotient = 3, Remainder = 2 }));
            Assert.That(libc.LdExp(1.5, 4), Is.EqualTo(24.0));
            Assert.That(libc.LdExpF(0.75f, 2), Is.EqualTo(3.0f));
            Assert.That(libc.StrError(0), Is.Not.Empty);
        });
    }

    [Test]
    public void Utf8Arguments_AreNulTerminated_EvenWhenLongerThanTheStackBuffer()
    {
        LibcShapes libc = BindLibc();
        string longText = new('é', NativeCall.Utf8StackBytes); // 2 bytes each in UTF-8: goes through the array pool
        Assert.Multiple(() =>
        {
            Assert.That(libc.StrLen("héllo"), Is.EqualTo((nuint)6));
            Assert.That(libc.StrLen(""), Is.EqualTo((nuint)0));
            Assert.That(libc.StrLen(longText), Is.EqualTo((nuint)(2 * NativeCall.Utf8StackBytes)));
            Assert.That(libc.StrCmp("abc", "abc"), Is.Zero);
            Assert.That(libc.StrCmp("abc", "abd"), Is.Negative);
        });
    }

    [Test]
    public void SpanArguments_PassPointerAndCount_AndTheCSideCanWriteIntoThem()
    {
        LibcShapes libc = BindLibc();
        byte[] text = "hello\0world"u8.ToArray();
        Span<byte> buffer = stackalloc byte[4096];
        nint written = libc.GetCwd(buffer);
        string cwd = System.Text.Encoding.UTF8.GetString(buffer[..buffer.IndexOf((byte)0)]);
        Assert.Multiple(() =>
        {
            Assert.That(libc.StrNLen(text), Is.EqualTo((nuint)5), "stops at the NUL");
            Assert.That(libc.StrNLen(text.AsSpan(0, 3)), Is.EqualTo((nuint)3), "stops at the count");
            Assert.That(libc.StrNLen(ReadOnlySpan<byte>.Empty), Is.EqualTo((nuint)0), "an empty span is NULL with count 0");
            Assert.That(written, Is.Not.Zero);
            Assert.That(cwd, Is.EqualTo(Directory.GetCurrentDirectory()));
        });
    }

    private static LibcShapes BindLibc()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("binds glibc's libc.so.6 directly; the greeter tests cover the other systems");
        }

        nint handle = NativeLibrary.Load("libc.so.6");
        return LibcShapes.Bind(new ExportResolver(handle, "libc.so.6", 1));
    }
}
