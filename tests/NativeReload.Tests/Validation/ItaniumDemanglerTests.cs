using System.Diagnostics;
using NativeReload.Validation;

namespace NativeReload.Tests.Validation;

/// <summary>The small demangler used in the STB_GNU_UNIQUE warning: c++filt's output, or the mangled name unchanged.</summary>
[TestFixture]
public sealed class ItaniumDemanglerTests
{
    // Expected values are c++filt's (binutils 2.40) output for the same names.
    [TestCase("_ZZN20nativereload_fixture6holderEvE8instance", "nativereload_fixture::holder()::instance")]
    [TestCase("_ZGVZN20nativereload_fixture6holderEvE8instance", "guard variable for nativereload_fixture::holder()::instance")]
    [TestCase("_ZNSt10moneypunctIcLb0EE4intlE", "std::moneypunct<char, false>::intl")]
    [TestCase("_ZNSs4_Rep11_S_max_sizeE", "std::basic_string<char, std::char_traits<char>, std::allocator<char> >::_Rep::_S_max_size")]
    [TestCase("_ZGVNSt8time_putIcSt19ostreambuf_iteratorIcSt11char_traitsIcEEE2idE",
        "guard variable for std::time_put<char, std::ostreambuf_iterator<char, std::char_traits<char> > >::id")]
    [TestCase("_ZNKSs4sizeEv", "std::basic_string<char, std::char_traits<char>, std::allocator<char> >::size() const")]
    [TestCase("_ZSt4swapIiEvRT_S1_", "void std::swap<int>(int&, int&)")]
    [TestCase("_ZN3FooIiEC2Ev", "Foo<int>::Foo()")]
    [TestCase("_ZNSaIcEC2Ev", "std::allocator<char>::allocator()")]
    [TestCase("_Z3fooPKcS0_", "foo(char const*, char const*)")]
    [TestCase("_ZNSdD0Ev", "std::basic_iostream<char, std::char_traits<char> >::~basic_iostream()")]
    [TestCase("_ZN9__gnu_cxx13new_allocatorIcED2Ev", "__gnu_cxx::new_allocator<char>::~new_allocator()")]
    [TestCase("_ZN12_GLOBAL__N_15countE", "(anonymous namespace)::count")]
    [TestCase("_ZZ9get_countvE1n", "get_count()::n")]
    [TestCase("_ZZN2ns7counterIiE3getEvE5value_0", "ns::counter<int>::get()::value")]
    [TestCase("_ZN7CounterIiE5countE", "Counter<int>::count")]
    [TestCase("_ZTVN2ns4BaseE", "vtable for ns::Base")]
    [TestCase("_ZN2ns7counterE", "ns::counter")]
    [TestCase("_ZN19nativereload_unique8RegistryIcE4nameB5cxx11E", "nativereload_unique::Registry<char>::name[abi:cxx11]")]
    [TestCase("_ZGVN19nativereload_unique8RegistryIcE4nameB5cxx11E", "guard variable for nativereload_unique::Registry<char>::name[abi:cxx11]")]
    [TestCase("_ZN19nativereload_unique7CounterIlE5countE", "nativereload_unique::Counter<long>::count")]
    public void Demangle_GivesCxxFiltsOutput_ForCommonNames(string mangled, string expected) =>
        Assert.That(ItaniumDemangler.Demangle(mangled), Is.EqualTo(expected));

    [TestCase("get_message")]
    [TestCase("_Z")]
    [TestCase("_ZN")]
    [TestCase("_ZN3Foo")]
    [TestCase("_Z999foo")]
    [TestCase("_ZNS9999_3barE")]
    [TestCase("_ZN3FooplERKS_")] // an operator: outside the subset
    [TestCase("_ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ")]
    public void Demangle_ReturnsTheNameUnchanged_WhenItCannotDemangleIt(string mangled) =>
        Assert.That(ItaniumDemangler.Demangle(mangled), Is.EqualTo(mangled));

    [Test]
    public void Demangle_NeverThrows_OnRandomInput()
    {
        var random = new Random(12);
        const string Alphabet = "_ZNSEIJKLPROTVDCabcdefghijlmnostvxyz0123456789";
        for (int i = 0; i < 20_000; i++)
        {
            char[] chars = new char[random.Next(2, 40)];
            for (int j = 0; j < chars.Length; j++)
            {
                chars[j] = Alphabet[random.Next(Alphabet.Length)];
            }

            string input = "_Z" + new string(chars);
            Assert.DoesNotThrow(() => ItaniumDemangler.Demangle(input), input);
        }
    }

    /// <summary>Every exported symbol of the system's libstdc++ either demangles exactly as c++filt does it or is left
    /// mangled; all of its STB_GNU_UNIQUE ones demangle.</summary>
    [Test]
    [Platform("Linux")]
    public void Demangle_AgreesWithCxxFilt_OrFallsBack_ForEveryLibstdcxxExport()
    {
        string? libstdcxx = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 6).Select(f => f[5]).FirstOrDefault(p => Path.GetFileName(p).StartsWith("libstdc++.so", StringComparison.Ordinal))
            ?? new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6" }.FirstOrDefault(File.Exists);
        if (libstdcxx is null || !CanRun("c++filt") || !CanRun("nm"))
        {
            Assert.Ignore("needs libstdc++.so.6, nm and c++filt (binutils)");
        }

        string[] names = Run("nm", ["-D", "--defined-only", "--format=posix", libstdcxx], null)
            .Select(l => l.Split(' ')[0]).Select(n => n.Split('@')[0]).Where(n => n.StartsWith("_Z", StringComparison.Ordinal)).Distinct().ToArray();
        string[] expected = Run("c++filt", [], string.Join('\n', names) + "\n");
        Assert.That(expected, Has.Length.EqualTo(names.Length));

        int demangled = 0;
        var wrong = new List<string>();
        for (int i = 0; i < names.Length; i++)
        {
            string ours = ItaniumDemangler.Demangle(names[i]);
            if (ours != names[i])
            {
                demangled++;
                if (ours != expected[i])
                {
                    wrong.Add($"{names[i]}: ours '{ours}', c++filt '{expected[i]}'");
                }
            }
        }

        Assert.That(wrong, Is.Empty);
        TestContext.Out.WriteLine($"{demangled} of {names.Length} demangled, the rest left mangled");

        ElfDynamicInfo info = ElfDynamicReader.Read(File.ReadAllBytes(libstdcxx));
        Assert.That(info.UniqueSymbols, Is.Not.Empty);
        Assert.That(info.UniqueSymbols.Where(n => ItaniumDemangler.Demangle(n) == n), Is.Empty, "every unique symbol of libstdc++ demangles");
    }

    private static bool CanRun(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Any(d => File.Exists(Path.Combine(d, tool)));

    private static string[] Run(string tool, string[] arguments, string? input)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (string a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        if (input is not null)
        {
            process.StandardInput.Write(input);
        }

        process.StandardInput.Close();
        if (!process.WaitForExit(30_000))
        {
            process.Kill();
            Assert.Fail($"{tool} did not finish in 30 s");
        }

        return output.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }
}
