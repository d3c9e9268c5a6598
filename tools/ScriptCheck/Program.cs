// Parses PowerShell scripts with System.Management.Automation's parser (the one pwsh uses) and reports
// syntax errors as "path:line:column: message". Exit codes: 0 no errors, 1 syntax errors, 2 usage or missing file.
using System.Management.Automation.Language;

if (args.Length == 0)
{
    Console.Error.WriteLine("usage: ScriptCheck <script.ps1>...");
    return 2;
}

var status = 0;
foreach (var path in args)
{
    if (!File.Exists(path))
    {
        Console.Error.WriteLine($"{path}: file not found");
        status = Math.Max(status, 2);
        continue;
    }

    Parser.ParseFile(Path.GetFullPath(path), out _, out var errors);
    if (errors.Length == 0)
    {
        Console.WriteLine($"{path}: parsed, no syntax errors");
        continue;
    }

    foreach (var error in errors)
    {
        var start = error.Extent.StartScriptPosition;
        Console.WriteLine($"{path}:{start.LineNumber}:{start.ColumnNumber}: {error.ErrorId}: {error.Message}");
    }

    Console.WriteLine($"{path}: {errors.Length} syntax error(s)");
    status = Math.Max(status, 1);
}

return status;
