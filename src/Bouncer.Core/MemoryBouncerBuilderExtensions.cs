using Bouncer;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The in-memory backend of <see cref="BouncerBuilder"/>.</summary>
public static class MemoryBouncerBuilderExtensions
{
    /// <summary>
    /// Every store in process memory: tests and single-process demos. Nothing survives a restart and nothing is shared
    /// with another process, so a CLI cannot reach it.
    /// </summary>
    public static BouncerBuilder UseMemory(this BouncerBuilder builder) => builder.UseStores(_ => BouncerStores.InMemory());
}
