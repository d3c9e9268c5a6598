using NativeReload.ShadowCopying;

namespace NativeReload.Tests.ShadowCopying;

/// <summary>
/// A shadow directory the host cannot empty when it closes (Windows: a DLL whose unmapping lags its FreeLibrary, a
/// virus scanner holding a copy) is retried briefly, and if it still cannot be emptied it keeps its lock file, so the
/// next process's sweep can prove it abandoned and remove it. Before, the lock file could go first and the directory
/// was left for good ("no lock file; it cannot be proven abandoned").
/// </summary>
/// <remarks>
/// How a copy is kept from being removed differs by OS, the rule does not: on Windows a handle without delete sharing
/// (what a mapped DLL is), on Unix a chain of folders deeper than a shadow directory ever holds, which the remover
/// refuses to walk.
/// </remarks>
[TestFixture]
[NonParallelizable]
public sealed class LeftoverDirectoryTests
{
    private string _root = null!;

    [SetUp]
    public void SetUp() => _root = Directory.CreateTempSubdirectory("nr-leftover-test-").FullName;

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Test]
    public void Dispose_WithACopyThatCannotBeRemoved_KeepsTheLockFile_AndTheNextSweepRemovesTheDirectory()
    {
        var shadows = ShadowCopyDirectory.Create(_root);
        string copy = shadows.WriteCopy("greeter.dll", 1, [1, 2, 3]);
        using (Blocker block = Blocker.Removal(shadows.Path, copy))
        {
            shadows.Dispose();
            Assert.That(Directory.Exists(shadows.Path), Is.True, "the blocked directory is left");
            Assert.That(File.Exists(Path.Combine(shadows.Path, ShadowCopyDirectory.OwnerFileName)), Is.True,
                "and keeps its lock file, the proof a later sweep needs");
            Assert.That(ShadowCopyDirectory.RemoveAbandoned(_root), Is.Zero, "nothing can be removed while the copy is held");
            Assert.That(File.Exists(Path.Combine(shadows.Path, ShadowCopyDirectory.OwnerFileName)), Is.True,
                "a sweep that fails half-way keeps the lock file too");
        }

        Assert.That(ShadowCopyDirectory.RemoveAbandoned(_root), Is.EqualTo(1), "the next start's sweep");
        Assert.That(Directory.Exists(shadows.Path), Is.False);
    }

    [Test]
    public void Dispose_WithACopyReleasedMomentsLater_RemovesTheDirectoryItself()
    {
        var shadows = ShadowCopyDirectory.Create(_root);
        string copy = shadows.WriteCopy("greeter.dll", 1, [1, 2, 3]);
        Blocker block = Blocker.Removal(shadows.Path, copy);
        using var released = new Timer(_ => block.Dispose(), null, TimeSpan.FromMilliseconds(60), Timeout.InfiniteTimeSpan);

        shadows.Dispose();

        Assert.That(Directory.Exists(shadows.Path), Is.False, "Dispose retried until the copy was let go");
        block.Dispose();
    }

    /// <summary>Keeps a shadow directory from being emptied until disposed.</summary>
    private sealed class Blocker : IDisposable
    {
        private readonly FileStream? _handle;
        private readonly string? _deepFolder;
        private int _disposed;

        private Blocker(FileStream? handle, string? deepFolder)
        {
            _handle = handle;
            _deepFolder = deepFolder;
        }

        public static Blocker Removal(string shadowDirectory, string copy)
        {
            if (OperatingSystem.IsWindows())
            {
                // Like a mapped DLL: open, without FileShare.Delete, so DeleteFile fails with a sharing violation.
                return new Blocker(new FileStream(copy, FileMode.Open, FileAccess.Read, FileShare.Read), null);
            }

            // Root ignores permissions, so a chmod cannot stop an unlink here; depth can: the remover walks 8 levels.
            string top = Path.Combine(shadowDirectory, "deep");
            string deepest = Path.Combine([top, .. Enumerable.Repeat("d", 10)]);
            Directory.CreateDirectory(deepest);
            return new Blocker(null, top);
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            _handle?.Dispose();
            if (_deepFolder is not null && Directory.Exists(_deepFolder))
            {
                Directory.Delete(_deepFolder, recursive: true);
            }
        }
    }
}
