using Microsoft.Extensions.Logging;

namespace NativeReload.Loading;

/// <summary>What <see cref="DependencyPreloader"/> did with a library's dependencies: source-generated, no cost when off.</summary>
internal static partial class DependencyLog
{
    [LoggerMessage(130, LogLevel.Debug, "Loaded {Dependency} from {Folder} for generation {Generation} of {Library} (its dependency, found there as from the original folder)")]
    public static partial void Preloaded(ILogger logger, string dependency, string folder, long generation, string library);

    [LoggerMessage(131, LogLevel.Warning, "dependency {Dependency} changed; {Library} still uses the copy loaded at generation {Generation}")]
    public static partial void StaleDependency(ILogger logger, string dependency, string library, long generation);
}
