using System.Globalization;
using System.Text;

namespace NativeReload.Validation;

/// <summary>
/// A small demangler for the Itanium C++ ABI names that matter in a warning about shared objects: nested and local
/// names, templates with type and literal arguments, substitutions, constructors and destructors, ABI tags, and the
/// special names (guard variables, vtables, typeinfo). Output follows <c>c++filt</c> (<c>char const*</c>).
/// </summary>
/// <remarks>
/// Anything outside that subset (operators, expressions, function and member pointer types, lambdas…) makes
/// <see cref="Demangle"/> return the mangled name unchanged: a partial answer is never guessed. No process is spawned.
/// </remarks>
internal sealed class ItaniumDemangler
{
    private const int MaxDepth = 64;
    private const int MaxInput = 4096;

    private readonly string _s;
    private readonly List<string> _subs = [];
    private List<string> _templateArgs = [];
    private int _pos;
    private int _depth;

    private ItaniumDemangler(string mangled, int start)
    {
        _s = mangled;
        _pos = start;
    }

    /// <summary>Returns the demangled form of <paramref name="mangled"/>, or <paramref name="mangled"/> itself when it
    /// is not an Itanium name or uses a construct this demangler does not know.</summary>
    public static string Demangle(string mangled)
    {
        ArgumentNullException.ThrowIfNull(mangled);
        if (!mangled.StartsWith("_Z", StringComparison.Ordinal) || mangled.Length > MaxInput)
        {
            return mangled;
        }

        // A clone suffix (".cold", ".constprop.0", ".isra.0") follows the encoding.
        string body = mangled;
        string clone = string.Empty;
        int dot = mangled.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0)
        {
            body = mangled[..dot];
            clone = $" [clone {mangled[dot..]}]";
        }

        try
        {
            var demangler = new ItaniumDemangler(body, 2);
            string? result = demangler.ParseTop();
            return result is not null && demangler._pos == body.Length ? result + clone : mangled;
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            return mangled;
        }
    }

    private char Peek(int ahead = 0) => _pos + ahead < _s.Length ? _s[_pos + ahead] : '\0';

    private bool Consume(char c)
    {
        if (Peek() != c)
        {
            return false;
        }

        _pos++;
        return true;
    }

    private bool Consume(string prefix)
    {
        if (string.CompareOrdinal(_s, _pos, prefix, 0, prefix.Length) != 0)
        {
            return false;
        }

        _pos += prefix.Length;
        return true;
    }

    private static FormatException Unsupported() => new("unsupported mangling");

    private string? ParseTop()
    {
        if (Consume("GV"))
        {
            return "guard variable for " + ParseName(out _);
        }

        string? special = Peek() == 'T' ? Peek(1) switch
        {
            'V' => "vtable for ",
            'I' => "typeinfo for ",
            'S' => "typeinfo name for ",
            'T' => "VTT for ",
            'H' => "TLS init function for ",
            'W' => "TLS wrapper function for ",
            _ => null,
        } : null;
        if (special is not null)
        {
            bool isName = Peek(1) is 'H' or 'W';
            _pos += 2;
            return special + (isName ? ParseName(out _) : ParseType());
        }

        return ParseEncoding();
    }

    /// <summary>encoding ::= name [bare-function-type]: a data object has no types after its name.</summary>
    private string ParseEncoding()
    {
        Enter();
        string name = ParseName(out NameInfo info);
        if (info is { IsTemplate: true, TemplateArgs: { } templateArgs })
        {
            _templateArgs = templateArgs; // what T_, T0_… in the function's types refer to
        }

        if (_pos >= _s.Length || Peek() == 'E')
        {
            Leave();
            return name;
        }

        // A function. Template functions (other than constructors, destructors) encode their return type first.
        string returnType = string.Empty;
        if (info.IsTemplate && !info.IsCtorDtor)
        {
            returnType = ParseType() + " ";
        }

        var parameters = new List<string>();
        while (_pos < _s.Length && Peek() != 'E' && Peek() != '.')
        {
            parameters.Add(ParseType());
        }

        string list = parameters is ["void"] ? string.Empty : string.Join(", ", parameters);
        Leave();
        return $"{returnType}{name}({list}){info.Qualifiers}";
    }

    private record struct NameInfo(bool IsTemplate, bool IsCtorDtor, string Qualifiers, List<string>? TemplateArgs);

    private string ParseName(out NameInfo info)
    {
        Enter();
        info = default;
        string result;
        if (Peek() == 'N')
        {
            result = ParseNested(out info);
        }
        else if (Peek() == 'Z')
        {
            result = ParseLocal();
        }
        else
        {
            // unscoped-name, or unscoped-template-name / substitution followed by template-args.
            bool isSubstitution = Peek() == 'S' && Peek(1) != 't';
            string unscoped;
            if (isSubstitution)
            {
                unscoped = ParseSubstitution();
            }
            else
            {
                bool std = Consume("St");
                unscoped = (std ? "std::" : string.Empty) + ParseUnqualified(out _);
            }

            if (Peek() == 'I')
            {
                if (!isSubstitution)
                {
                    _subs.Add(unscoped); // the template name is a candidate, then the whole template-id
                }

                List<string> args = ParseTemplateArgs();
                unscoped += FormatArgs(args);
                info.IsTemplate = true;
                info.TemplateArgs = args;
            }

            result = unscoped;
        }

        Leave();
        return result;
    }

    /// <summary>nested-name ::= N [CV-qualifiers] [ref-qualifier] prefix unqualified-name E.</summary>
    private string ParseNested(out NameInfo info)
    {
        info = default;
        _pos++; // N
        string qualifiers = string.Empty;
        while (Peek() is 'r' or 'V' or 'K')
        {
            qualifiers += Peek() switch
            {
                'r' => " restrict",
                'V' => " volatile",
                _ => " const",
            };
            _pos++;
        }

        if (Consume('R'))
        {
            qualifiers += " &";
        }
        else if (Consume('O'))
        {
            qualifiers += " &&";
        }

        var name = new StringBuilder();
        string? last = null;
        while (!Consume('E'))
        {
            if (_pos >= _s.Length)
            {
                throw Unsupported();
            }

            info.IsTemplate = false;
            if (Peek() == 'I')
            {
                if (name.Length == 0)
                {
                    throw Unsupported();
                }

                List<string> args = ParseTemplateArgs();
                name.Append(FormatArgs(args));
                info.IsTemplate = true;
                info.TemplateArgs = args;
            }
            else if (Peek() == 'S' && name.Length == 0)
            {
                bool std = Peek(1) == 't';
                if (std)
                {
                    _pos += 2;
                    last = ParseUnqualified(out _);
                    name.Append("std::").Append(last);
                }
                else
                {
                    string substituted = ParseSubstitution();
                    name.Append(substituted);
                    last = substituted;
                    continue; // a substitution is not added again
                }
            }
            else if (Peek() == 'T' && name.Length == 0)
            {
                name.Append(ParseTemplateParam());
            }
            else
            {
                if (name.Length > 0)
                {
                    name.Append("::");
                }

                info.IsCtorDtor = false;
                string part = ParseUnqualified(out string? ctorName, last);
                info.IsCtorDtor = ctorName is not null;
                last = ctorName ?? part;
                name.Append(part);
            }

            if (Peek() != 'E')
            {
                _subs.Add(name.ToString()); // every prefix is a candidate, but not the complete name
            }
        }

        info.Qualifiers = qualifiers;
        return name.ToString();
    }

    /// <summary>local-name ::= Z encoding E entity-name [discriminator] | Z encoding E s [discriminator].</summary>
    private string ParseLocal()
    {
        _pos++; // Z
        string function = ParseEncoding();
        if (!Consume('E'))
        {
            throw Unsupported();
        }

        string entity = Consume('s') ? "string literal" : ParseName(out _);
        if (Consume('_'))
        {
            // discriminator ::= _ digit | __ number _
            if (Consume('_'))
            {
                while (char.IsAsciiDigit(Peek()))
                {
                    _pos++;
                }

                if (!Consume('_'))
                {
                    throw Unsupported();
                }
            }
            else if (char.IsAsciiDigit(Peek()))
            {
                _pos++;
            }
            else
            {
                throw Unsupported();
            }
        }

        return $"{function}::{entity}";
    }

    /// <summary>unqualified-name: source-name, ctor/dtor name, each optionally with ABI tags.</summary>
    private string ParseUnqualified(out string? ctorOf, string? enclosing = null)
    {
        ctorOf = null;
        string name;
        if (char.IsAsciiDigit(Peek()))
        {
            name = ParseSourceName();
        }
        else if (Peek() == 'C' && Peek(1) is '1' or '2' or '3' or '5' && enclosing is not null)
        {
            _pos += 2;
            name = BaseName(enclosing);
            ctorOf = name;
        }
        else if (Peek() == 'D' && Peek(1) is '0' or '1' or '2' && enclosing is not null)
        {
            _pos += 2;
            name = "~" + BaseName(enclosing);
            ctorOf = name;
        }
        else
        {
            throw Unsupported(); // operators, lambdas, unnamed types
        }

        while (Consume('B'))
        {
            name += $"[abi:{ParseSourceName()}]";
        }

        return name;
    }

    /// <summary>The class name a constructor is named after: its last component without template arguments or ABI tags.</summary>
    private static string BaseName(string name)
    {
        int bracket = name.IndexOf('<', StringComparison.Ordinal);
        if (bracket >= 0)
        {
            name = name[..bracket];
        }

        int scope = name.LastIndexOf("::", StringComparison.Ordinal);
        if (scope >= 0)
        {
            name = name[(scope + 2)..];
        }

        int tag = name.IndexOf('[', StringComparison.Ordinal);
        return tag >= 0 ? name[..tag] : name;
    }

    private string ParseSourceName()
    {
        int start = _pos;
        while (char.IsAsciiDigit(Peek()))
        {
            _pos++;
        }

        if (!int.TryParse(_s.AsSpan(start, _pos - start), NumberStyles.None, CultureInfo.InvariantCulture, out int length)
            || length <= 0 || length > _s.Length - _pos)
        {
            throw Unsupported();
        }

        string id = _s.Substring(_pos, length);
        _pos += length;
        return id.StartsWith("_GLOBAL__N", StringComparison.Ordinal) ? "(anonymous namespace)" : id;
    }

    private List<string> ParseTemplateArgs()
    {
        Enter();
        _pos++; // I
        var args = new List<string>();
        while (!Consume('E'))
        {
            if (_pos >= _s.Length)
            {
                throw Unsupported();
            }

            args.Add(ParseTemplateArg());
        }

        Leave();
        return args;
    }

    private string ParseTemplateArg()
    {
        if (Consume('L'))
        {
            return ParseLiteral();
        }

        if (Consume('J'))
        {
            var pack = new List<string>();
            while (!Consume('E'))
            {
                if (_pos >= _s.Length)
                {
                    throw Unsupported();
                }

                pack.Add(ParseTemplateArg());
            }

            return string.Join(", ", pack);
        }

        return ParseType();
    }

    /// <summary>expr-primary ::= L type value E (after the L): integers, bool, char; the rest is unsupported.</summary>
    private string ParseLiteral()
    {
        if (Peek() == '_' && Peek(1) == 'Z')
        {
            _pos += 2;
            string entity = ParseEncoding();
            return Consume('E') ? entity : throw Unsupported();
        }

        string type = ParseType();
        bool negative = Consume('n');
        int start = _pos;
        while (char.IsAsciiDigit(Peek()))
        {
            _pos++;
        }

        string digits = _s[start.._pos];
        if (digits.Length == 0 || !Consume('E'))
        {
            throw Unsupported();
        }

        string value = (negative ? "-" : string.Empty) + digits;
        return type switch
        {
            "bool" => digits == "0" ? "false" : "true",
            "int" => value,
            "unsigned int" => value + "u",
            "long" => value + "l",
            "unsigned long" => value + "ul",
            "long long" => value + "ll",
            "unsigned long long" => value + "ull",
            _ => $"({type}){value}",
        };
    }

    private string ParseTemplateParam()
    {
        _pos++; // T
        int index = 0;
        if (!Consume('_'))
        {
            int start = _pos;
            while (char.IsAsciiDigit(Peek()))
            {
                _pos++;
            }

            if (_pos == start || !Consume('_'))
            {
                throw Unsupported();
            }

            index = int.Parse(_s.AsSpan(start, _pos - start - 1), NumberStyles.None, CultureInfo.InvariantCulture) + 1;
        }

        return index < _templateArgs.Count ? _templateArgs[index] : throw Unsupported();
    }

    private string ParseSubstitution()
    {
        _pos++; // S
        char c = Peek();
        string? abbreviation = c switch
        {
            'a' => "std::allocator",
            'b' => "std::basic_string",
            's' => "std::basic_string<char, std::char_traits<char>, std::allocator<char> >",
            'i' => "std::basic_istream<char, std::char_traits<char> >",
            'o' => "std::basic_ostream<char, std::char_traits<char> >",
            'd' => "std::basic_iostream<char, std::char_traits<char> >",
            _ => null,
        };
        if (abbreviation is not null)
        {
            _pos++;
            return abbreviation;
        }

        int index = 0;
        if (!Consume('_'))
        {
            int value = 0;
            int start = _pos;
            while (char.IsAsciiDigit(Peek()) || char.IsAsciiLetterUpper(Peek()))
            {
                char d = _s[_pos++];
                value = checked((value * 36) + (char.IsAsciiDigit(d) ? d - '0' : d - 'A' + 10));
            }

            if (_pos == start || !Consume('_'))
            {
                throw Unsupported();
            }

            index = value + 1;
        }

        return index < _subs.Count ? _subs[index] : throw Unsupported();
    }

    private string ParseType()
    {
        Enter();
        string? builtin = ParseBuiltin();
        if (builtin is not null)
        {
            Leave();
            return builtin;
        }

        string result;
        char c = Peek();
        switch (c)
        {
            case 'P':
            case 'R':
            case 'O':
                _pos++;
                string pointee = ParseType();
                if (pointee.EndsWith(']'))
                {
                    throw Unsupported(); // a pointer to an array is written "int (*) [3]": not done here
                }

                result = pointee + c switch { 'P' => "*", 'R' => "&", _ => "&&" };
                break;
            case 'K':
            case 'V':
            case 'r':
                _pos++;
                result = ParseType() + c switch { 'K' => " const", 'V' => " volatile", _ => " restrict" };
                break;
            case 'T':
                result = ParseTemplateParam();
                break;
            case 'S' when Peek(1) != 't':
                result = ParseSubstitution();
                if (Peek() == 'I')
                {
                    List<string> args = ParseTemplateArgs();
                    result += FormatArgs(args);
                    break;
                }

                Leave();
                return result; // a plain substitution is not a new candidate
            case 'A':
                _pos++;
                int start = _pos;
                while (char.IsAsciiDigit(Peek()))
                {
                    _pos++;
                }

                string bound = _s[start.._pos];
                if (!Consume('_'))
                {
                    throw Unsupported();
                }

                result = $"{ParseType()} [{bound}]";
                break;
            case 'N':
            case 'Z':
                result = ParseName(out _);
                break;
            default:
                if (char.IsAsciiDigit(c) || (c == 'S' && Peek(1) == 't'))
                {
                    result = ParseName(out _);
                    break;
                }

                throw Unsupported(); // function types, member pointers, decltype, vendor types
        }

        _subs.Add(result);
        Leave();
        return result;
    }

    private string? ParseBuiltin()
    {
        string? simple = Peek() switch
        {
            'v' => "void",
            'w' => "wchar_t",
            'b' => "bool",
            'c' => "char",
            'a' => "signed char",
            'h' => "unsigned char",
            's' => "short",
            't' => "unsigned short",
            'i' => "int",
            'j' => "unsigned int",
            'l' => "long",
            'm' => "unsigned long",
            'x' => "long long",
            'y' => "unsigned long long",
            'n' => "__int128",
            'o' => "unsigned __int128",
            'f' => "float",
            'd' => "double",
            'e' => "long double",
            'g' => "__float128",
            'z' => "...",
            _ => null,
        };
        if (simple is not null)
        {
            _pos++;
            return simple;
        }

        if (Peek() != 'D')
        {
            return null;
        }

        string? extended = Peek(1) switch
        {
            'n' => "decltype(nullptr)",
            'i' => "char32_t",
            's' => "char16_t",
            'u' => "char8_t",
            _ => null,
        };
        if (extended is not null)
        {
            _pos += 2;
        }

        return extended;
    }

    private static string FormatArgs(List<string> args)
    {
        string list = string.Join(", ", args);
        return list.EndsWith('>') ? $"<{list} >" : $"<{list}>";
    }

    private void Enter()
    {
        if (++_depth > MaxDepth)
        {
            throw Unsupported();
        }
    }

    private void Leave() => _depth--;
}
