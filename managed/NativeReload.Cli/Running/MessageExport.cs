namespace NativeReload.Cli.Running;

/// <summary>The one export the CLI calls: <c>const char* name(void)</c>, resolved once per generation.</summary>
internal sealed unsafe class MessageExport(nint address)
{
    private readonly delegate* unmanaged[Cdecl]<byte*> _call = (delegate* unmanaged[Cdecl]<byte*>)address;

    /// <summary>Calls the export and copies the string it returns while its generation is alive.</summary>
    public string Call() => NativeReload.Calling.NativeUtf8.Decode(_call());

    /// <summary>
    /// Calls the export and copies what it returns only if that is a readable UTF-8 string: the user named the export
    /// on the command line, so its real return type may be anything (an <c>int</c>, NULL, a wild pointer).
    /// </summary>
    public bool TryCall(out string? message, out string? problem) =>
        NativeReload.Calling.NativeUtf8.TryDecodeUntrusted((nint)_call(), out message, out problem);
}
