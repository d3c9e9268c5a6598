namespace NativeReload.Cli.Running;

/// <summary>The one export the CLI calls: <c>const char* name(void)</c>, resolved once per generation.</summary>
internal sealed unsafe class MessageExport(nint address)
{
    private readonly delegate* unmanaged[Cdecl]<byte*> _call = (delegate* unmanaged[Cdecl]<byte*>)address;

    /// <summary>Calls the export and copies the string it returns while its generation is alive.</summary>
    public string Call() => NativeReload.Calling.NativeUtf8.Decode(_call());
}
