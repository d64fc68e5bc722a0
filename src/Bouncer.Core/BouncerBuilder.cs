using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Bouncer;

/// <summary>
/// Returned by <c>AddBouncer</c> / <c>AddBouncerCore</c>: further configuration of one deployment. Each backend
/// package adds one extension (<c>UseSqlite</c>, <c>UseRedis</c>, <c>UsePostgres</c>; <c>UseMemory</c> here), which
/// wires every store that backend offers. Exactly one backend must be chosen: none is a start-up error naming the fix.
/// </summary>
public sealed class BouncerBuilder
{
    /// <summary>Wraps the service collection Bouncer was added to.</summary>
    public BouncerBuilder(IServiceCollection services) => Services = services ?? throw new ArgumentNullException(nameof(services));

    /// <summary>The service collection.</summary>
    public IServiceCollection Services { get; }

    /// <summary>
    /// Uses the stores built by <paramref name="factory"/> for every part of the engine (a custom backend; the
    /// built-in ones call this). The factory runs once, when the engine is first resolved, and must return stores
    /// ready to use (schemas created, server reachable) or throw <see cref="InvalidOperationException"/> naming the
    /// setting at fault.
    /// </summary>
    public BouncerBuilder UseStores(Func<IServiceProvider, BouncerStores> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        Services.Replace(ServiceDescriptor.Singleton(factory));
        return this;
    }
}
