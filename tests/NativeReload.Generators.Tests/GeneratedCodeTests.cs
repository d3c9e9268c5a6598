using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace NativeReload.Generators.Tests;

[TestFixture]
public sealed class GeneratedCodeTests
{
    private const string Greeter = """
        namespace App;

        [NativeExports]
        public sealed partial class Greeter
        {
            [Export("get_message")] public partial string GetMessage();
            [Export("add")] public partial int Add(int a, int b);
            [Export("get_version", Optional = true)] public partial int GetVersion();
        }
        """;

    [TestCase(false)]
    [TestCase(true)]
    public async Task TheReadmeGreeter_Compiles_WithOrWithoutUnsafeCodeAllowed(bool allowUnsafe)
    {
        await new GeneratorTest(GeneratorHarness.Usings + Greeter, allowUnsafe).RunAsync();
    }

    [Test]
    public void WithUnsafeCodeAllowed_TheTableIsTheHandWrittenPattern_FunctionPointersCalledDirectly()
    {
        var (diagnostics, generated, compiler) = GeneratorHarness.Run(Greeter, allowUnsafe: true);
        Assert.Multiple(() =>
        {
            Assert.That(diagnostics, Is.Empty);
            Assert.That(compiler, Is.Empty, string.Join("\n", compiler));
            Assert.That(generated, Does.Contain("unsafe partial class Greeter"));
            Assert.That(generated, Does.Contain("private readonly delegate* unmanaged[Cdecl]<int, int, int> __nr_fn1;"));
            Assert.That(generated, Does.Contain("__nr_fn1 = (delegate* unmanaged[Cdecl]<int, int, int>)exports.Require(\"add\");"));
            Assert.That(generated, Does.Contain("return __nr_fn1(a, b);"));
            Assert.That(generated, Does.Contain("return global::NativeReload.Binding.NativeCall.DecodeUtf8(__nr_fn0());"));
            Assert.That(generated, Does.Not.Contain("NativeCall.Cdecl"));
        });
    }

    [Test]
    public void WithoutUnsafeCode_Greeter_GetsAnExportTable_BindAndLoad_AndCallsThroughNativeCall()
    {
        var (diagnostics, generated, compiler) = GeneratorHarness.Run(Greeter);
        Assert.Multiple(() =>
        {
            Assert.That(diagnostics, Is.Empty);
            Assert.That(compiler, Is.Empty, string.Join("\n", compiler));
            Assert.That(generated, Does.Contain("exports.Require(\"get_message\")"));
            Assert.That(generated, Does.Contain("exports.Optional(\"get_version\")"));
            Assert.That(generated, Does.Contain("public static Greeter Bind(global::NativeReload.Loading.ExportResolver exports)"));
            Assert.That(generated, Does.Contain("global::NativeReload.Reloading.ReloadableLibrary<Greeter> Load(string filePath"));
            Assert.That(generated, Does.Contain("NativeCall.DecodeUtf8(global::NativeReload.Binding.NativeCall.Cdecl<nint>(__nr_fn0))"));
            Assert.That(generated, Does.Contain("NativeCall.Cdecl<int, int, int>(__nr_fn1, a, b)"));
            Assert.That(generated, Does.Contain("public bool IsGetVersionAvailable => (nint)__nr_fn2 != 0;"));
            Assert.That(generated, Does.Not.Contain("unsafe").And.Not.Contain("delegate*"));
        });
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task EveryShape_Compiles_WithOrWithoutUnsafeCodeAllowed(bool allowUnsafe)
    {
        const string source = """
            namespace App;

            public enum Mode : short { A, B }

            [StructLayout(LayoutKind.Sequential)]
            public struct Vec3 { public float X, Y, Z; }

            public struct Outer { public Vec3 Position; public Mode Mode; public nint Handle; }

            [NativeExports(CallingConvention = CallingConvention.Cdecl)]
            internal sealed partial class Everything
            {
                public partial sbyte I8(sbyte v);
                public partial byte U8(byte v);
                public partial short I16(short v);
                public partial ushort U16(ushort v);
                public partial int I32(int v);
                public partial uint U32(uint v);
                public partial long I64(long v);
                public partial ulong U64(ulong v);
                public partial float F32(float v);
                public partial double F64(double v);
                public partial nint Ptr(nint p, nuint size);
                public partial Mode Enum(Mode m);
                public partial Outer Struct(Outer o, Vec3 v);
                [return: MarshalAs(UnmanagedType.U1)] public partial bool Bool1([MarshalAs(UnmanagedType.U1)] bool b);
                [return: MarshalAs(UnmanagedType.I1)] public partial bool BoolS1([MarshalAs(UnmanagedType.I1)] bool b);
                [return: MarshalAs(UnmanagedType.Bool)] public partial bool Bool4([MarshalAs(UnmanagedType.I4)] bool b, [MarshalAs(UnmanagedType.U4)] bool c);
                public partial void Nothing();
                public partial int Sum(ReadOnlySpan<int> values);
                public partial void Fill(Span<Vec3> points, [SpanLength(typeof(int))] Span<byte> flags, [SpanLength(typeof(uint))] ReadOnlySpan<double> weights);
                public partial nuint Write([SpanLength(typeof(long))] ReadOnlySpan<byte> bytes, [MarshalAs(UnmanagedType.U1)] bool flush);
                public partial string Echo([Utf8] string text, [Utf8] string? other, int n);
                [return: MarshalAs(UnmanagedType.U1)] public partial bool Check([Utf8] string name, ReadOnlySpan<byte> data);
                public partial void Log([Utf8] string message);
                public partial int Eight(int a, int b, int c, int d, int e, int f, int g, int h);
                [Export("optional_thing", Optional = true)] public partial void MaybeThere(int x);
                [Export("optional_span", Optional = true)] public partial int MaybeSpan(ReadOnlySpan<byte> data);
                [Export(CallingConvention = CallingConvention.StdCall)] public partial int Std(int a);
                [Export(CallingConvention = CallingConvention.ThisCall)] public partial int This(nint self, int a);
                [Export(CallingConvention = CallingConvention.FastCall)] public partial int Fast(int a);
                [Export(CallingConvention = CallingConvention.Winapi)] public partial int Platform(int a);
                private partial int PrivateExport(int @class);
                internal partial void InternalExport();

                // Not an export: an ordinary helper beside them.
                public int Helper() => I32(1) + PrivateExport(2);
            }
            """;
        await new GeneratorTest(GeneratorHarness.Usings + source, allowUnsafe).RunAsync();
    }

    [Test]
    public async Task ExportsInTheGlobalNamespace_Compile()
    {
        await new GeneratorTest(GeneratorHarness.Usings + """
            [NativeExports]
            public partial class Top { public partial int F(int a); }
            """).RunAsync();
    }

    [Test]
    public void AnUnrelatedEdit_ReusesTheCachedOutput()
    {
        CSharpCompilation compilation = GeneratorHarness.Compile(GeneratorHarness.Usings + Greeter);
        GeneratorDriver driver = CSharpGeneratorDriver.Create(
            [new NativeExportsGenerator().AsSourceGenerator()],
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
        driver = driver.RunGenerators(compilation);

        CSharpCompilation edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText(
            "namespace App; public static class Unrelated { public static int X => 1; }", new CSharpParseOptions(LanguageVersion.Latest), path: "Other.cs"));
        GeneratorRunResult second = driver.RunGenerators(edited).GetRunResult().Results.Single();

        var outputs = second.TrackedOutputSteps.SelectMany(step => step.Value).SelectMany(step => step.Outputs).ToList();
        Assert.That(outputs, Is.Not.Empty);
        Assert.That(outputs.Select(o => o.Reason), Is.All.EqualTo(IncrementalStepRunReason.Cached));
    }
}
