using Bouncer.Secrets;
using Microsoft.Extensions.Configuration;
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

    /// <summary>
    /// The configuration-bound form of <see cref="UseStores(Func{IServiceProvider, BouncerStores})"/>: when the
    /// engine is first resolved (at start), reads the connection string <c>ConnectionStrings:&lt;name&gt;</c> from
    /// <paramref name="configuration"/> (<see cref="ConfigurationExtensions.GetConnectionString"/>, so
    /// <c>"ConnectionStrings": { "Bouncer": "..." }</c> in appsettings.json or the environment variable
    /// <c>ConnectionStrings__Bouncer</c>) and hands it to <paramref name="factory"/>.
    /// </summary>
    /// <param name="configuration">The app's configuration root (<c>builder.Configuration</c>); a section works too,
    /// and is then searched below its own path.</param>
    /// <param name="connectionStringName">The name under <c>ConnectionStrings</c>; by convention <c>Bouncer</c>.</param>
    /// <param name="factory">Builds the stores from the connection string, which is never null or blank.</param>
    /// <exception cref="InvalidOperationException">At start, when the connection string is missing or blank: one line
    /// naming the setting's full path.</exception>
    public BouncerBuilder UseStores(IConfiguration configuration, string connectionStringName, Func<IServiceProvider, string, BouncerStores> factory)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionStringName);
        ArgumentNullException.ThrowIfNull(factory);
        return UseStores(sp => factory(sp, ConnectionString(configuration, connectionStringName)));
    }

    /// <summary>
    /// The connection string <c>ConnectionStrings:&lt;name&gt;</c> of <paramref name="configuration"/>, or an
    /// <see cref="InvalidOperationException"/> naming the setting's full path (for a section, below its path).
    /// </summary>
    public static string ConnectionString(IConfiguration configuration, string connectionStringName)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var value = configuration.GetConnectionString(connectionStringName);
        if (!string.IsNullOrWhiteSpace(value)) return value;
        var path = (configuration is IConfigurationSection section ? section.Path + ":" : "") + "ConnectionStrings:" + connectionStringName;
        throw new InvalidOperationException($"{path} is not set: Bouncer needs the connection string of its store there "
            + $"(appsettings.json \"ConnectionStrings\": {{ \"{connectionStringName}\": \"...\" }}, or the environment variable {path.Replace(":", "__", StringComparison.Ordinal)}).");
    }
}
