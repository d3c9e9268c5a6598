using Microsoft.CodeAnalysis;

namespace NativeReload.Generators.Tests;

/// <summary>Every unsupported declaration is a build error at the right place, with an id, saying what to write instead.</summary>
[TestFixture]
public sealed class DiagnosticTests
{
    private static Task Verify(string source) => new GeneratorTest(GeneratorHarness.Usings + source).RunAsync();

    private static Diagnostic Single(string source, string id)
    {
        var (diagnostics, _, compiler) = GeneratorHarness.Run(source);
        Assert.That(compiler, Is.Empty, "an export with a diagnostic still gets a body, so the compiler adds no errors of its own: " + string.Join("\n", compiler));
        Assert.That(diagnostics.Select(d => d.Id), Is.EqualTo(new[] { id }), string.Join("\n", diagnostics));
        Assert.That(diagnostics[0].Severity, Is.EqualTo(DiagnosticSeverity.Error));
        return diagnostics[0];
    }

    [Test]
    public Task NR1001_ClassNotPartial() => Verify("""
        [NativeExports] public sealed class {|NR1001:Lib|} { }
        """);

    [Test]
    public Task NR1001_NestedClass() => Verify("""
        public partial class Outer { [NativeExports] public sealed partial class {|NR1001:Lib|} { } }
        """);

    [Test]
    public Task NR1001_GenericStaticOrAbstractClass() => Verify("""
        [NativeExports] public sealed partial class {|NR1001:Gen|}<T> { }
        [NativeExports] public static partial class {|NR1001:Stat|} { }
        [NativeExports] public abstract partial class {|NR1001:Abs|} { }
        [NativeExports] public sealed partial record {|NR1001:Rec|};
        """);

    [Test]
    public void NR1001_Message_SaysWhatToWrite()
    {
        Diagnostic d = Single("[NativeExports] public class Lib { }", "NR1001");
        Assert.That(d.GetMessage(), Does.Contain("'Lib'").And.Contain("not partial").And.Contain("public sealed partial class Lib"));
    }

    [Test]
    public Task NR1002_StringParameterWithoutEncoding() => Verify("""
        [NativeExports] public sealed partial class Lib { public partial int Greet(string {|NR1002:name|}); }
        """);

    [Test]
    public void NR1002_Message_OffersUtf8()
    {
        Diagnostic d = Single("[NativeExports] public sealed partial class Lib { public partial int Greet(string name); }", "NR1002");
        Assert.That(d.GetMessage(), Does.Contain("'name' of 'Greet'").And.Contain("add [Utf8]").And.Contain("ReadOnlySpan<byte>"));
    }

    [Test]
    public Task NR1003_BoolWithoutSize_ParameterAndReturn() => Verify("""
        [NativeExports] public sealed partial class Lib
        {
            public partial void Set(bool {|NR1003:on|});
            public partial bool {|NR1003:IsOn|}();
        }
        """);

    [Test]
    public void NR1003_Message_NamesBothSizes()
    {
        Diagnostic d = Single("[NativeExports] public sealed partial class Lib { public partial bool IsOn(); }", "NR1003");
        Assert.That(d.GetMessage(), Does.Contain("[return: MarshalAs(UnmanagedType.U1)]").And.Contain("[return: MarshalAs(UnmanagedType.Bool)]"));
    }

    [Test]
    public Task NR1004_TypesThatCannotCrossTheCAbi() => Verify("""
        public struct WithBool { public int A; public bool Flag; }
        public struct Fine { public int A; public double B; }
        [NativeExports] public sealed partial class Lib
        {
            public partial void C(char {|NR1004:c|});
            public partial void D(decimal {|NR1004:d|});
            public partial void A(int[] {|NR1004:values|});
            public partial void O(object {|NR1004:o|});
            public partial void N(int? {|NR1004:n|});
            public partial void S(WithBool {|NR1004:s|});
            public partial void F(Action {|NR1004:callback|});
            public partial void Sp(ReadOnlySpan<bool> {|NR1004:flags|});
            public partial ReadOnlySpan<byte> {|NR1004:Bytes|}();
            public partial Fine Ok(Fine f);
        }
        """);

    [Test]
    public void NR1004_Message_NamesTheOffendingField()
    {
        Diagnostic d = Single("""
            public struct WithBool { public int A; public bool Flag; }
            [NativeExports] public sealed partial class Lib { public partial void S(WithBool s); }
            """, "NR1004");
        Assert.That(d.GetMessage(), Does.Contain("WithBool.Flag").And.Contain("use byte/int fields"));
    }

    [Test]
    public void NR1004_Message_ForChar_SaysByteOrUshort()
    {
        Diagnostic d = Single("[NativeExports] public sealed partial class Lib { public partial void C(char c); }", "NR1004");
        Assert.That(d.GetMessage(), Does.Contain("use byte for C char, ushort for char16_t"));
    }

    [Test]
    public Task NR1005_ExportOnAMethodWithABody() => Verify("""
        [NativeExports] public sealed partial class Lib
        {
            [Export("x")] public int {|NR1005:X|}() => 1;
        }
        """);

    [Test]
    public Task NR1006_GenericStaticAndRefParameters() => Verify("""
        [NativeExports] public sealed partial class Lib
        {
            public partial T {|NR1006:Gen|}<T>(T v) where T : unmanaged;
            public static partial int {|NR1006:Stat|}(int v);
            public partial void Out(out int {|NR1006:v|});
            public partial void Ref(ref int {|NR1006:v|});
        }
        """);

    [Test]
    public Task NR1007_TooManyArguments() => Verify("""
        [NativeExports] public sealed partial class Lib
        {
            public partial int {|NR1007:Nine|}(int a, int b, int c, int d, int e, int f, int g, int h, int i);
            public partial int {|NR1007:FourSpans|}(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, ReadOnlySpan<byte> c, ReadOnlySpan<byte> d);
            public partial int {|NR1007:SpansCountTwice|}(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, ReadOnlySpan<byte> c, int d, int e, int f);
        }
        """);

    [Test]
    public Task NR1008_AttributeValuesNotSupported() => Verify("""
        [NativeExports] public sealed partial class Lib
        {
            public partial int Len([SpanLength(typeof(short))] ReadOnlySpan<byte> {|NR1008:data|});
            [return: MarshalAs(UnmanagedType.LPStr)] public partial bool {|NR1008:Flag|}();
            [Export("")] public partial int {|NR1008:Empty|}();
            [Export(CallingConvention = (CallingConvention)42)] public partial int {|NR1008:Odd|}();
        }
        """);

    [Test]
    public void AnExportWithADiagnostic_StillLetsTheOthersGenerate()
    {
        var (diagnostics, generated, compiler) = GeneratorHarness.Run("""
            [NativeExports] public sealed partial class Lib
            {
                public partial int Good(int a);
                public partial int Bad(string s);
            }
            """);
        Assert.Multiple(() =>
        {
            Assert.That(diagnostics.Select(d => d.Id), Is.EqualTo(new[] { "NR1002" }));
            Assert.That(compiler, Is.Empty);
            Assert.That(generated, Does.Contain("NativeCall.Cdecl<int, int>(__nr_fn0, a)"));
            Assert.That(generated, Does.Contain("throw new global::System.NotSupportedException"));
        });
    }
}
