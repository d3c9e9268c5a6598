using System.ComponentModel;

namespace NativeReload.Binding;

/// <summary>A generated call that takes one pinned span's address; see <see cref="NativeCall.Pin{T1, TCall, TResult}"/>.</summary>
/// <typeparam name="TResult">The call's result (<see cref="byte"/> for a void export).</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IPinnedCall1<out TResult>
{
    /// <summary>Calls the export with the pinned address.</summary>
    /// <param name="p1">Address of the first span's first element (zero when empty).</param>
    /// <returns>The export's result.</returns>
    TResult Invoke(nint p1);
}

/// <summary>A generated call that takes two pinned spans' addresses.</summary>
/// <typeparam name="TResult">The call's result (<see cref="byte"/> for a void export).</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IPinnedCall2<out TResult>
{
    /// <summary>Calls the export with the pinned addresses.</summary>
    /// <param name="p1">Address of the first span.</param>
    /// <param name="p2">Address of the second span.</param>
    /// <returns>The export's result.</returns>
    TResult Invoke(nint p1, nint p2);
}

/// <summary>A generated call that takes three pinned spans' addresses.</summary>
/// <typeparam name="TResult">The call's result (<see cref="byte"/> for a void export).</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IPinnedCall3<out TResult>
{
    /// <summary>Calls the export with the pinned addresses.</summary>
    /// <param name="p1">Address of the first span.</param>
    /// <param name="p2">Address of the second span.</param>
    /// <param name="p3">Address of the third span.</param>
    /// <returns>The export's result.</returns>
    TResult Invoke(nint p1, nint p2, nint p3);
}
