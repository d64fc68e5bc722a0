using Bouncer.Secrets;
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

    /// <summary>
    /// Encrypts the deployment's secrets at rest with the protector <paramref name="factory"/> returns (null: no
    /// opinion, the next choice applies). The <c>Bouncer:KeyEncryption</c> settings still win, so an operator can
    /// override the code; after them this comes before the backend's default (SQLite's key file beside the database).
    /// Called again, the last call wins.
    /// </summary>
    public BouncerBuilder ProtectSecretsWith(Func<IServiceProvider, ISecretProtector?> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        Services.Replace(ServiceDescriptor.Singleton(new SecretProtectorChoice(factory)));
        return this;
    }
}
