using System.Buffers.Text;
using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using Bouncer;
using Bouncer.Access;
using Bouncer.Diagnostics;
using Bouncer.Dpop;
using Bouncer.Hosting;
using Bouncer.Refresh;
using Bouncer.Revocation;
using Bouncer.Secrets;
using Bouncer.Sessions;
using Bouncer.Tokens;
using Bouncer.Users;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers Bouncer's engine: the one composition every entry point uses (the server, the CLI, an app). Each service
/// is a singleton, ready when resolved; every access change goes through them, so no entry point can skip an
/// announcement. Choose the backend on the returned builder (<c>UseSqlite</c>, <c>UseRedis</c>, <c>UsePostgres</c>,
/// <c>UseMemory</c>).
/// </summary>
public static class BouncerCoreServiceCollectionExtensions
{
    /// <summary>The engine without ASP.NET Core (a worker, the CLI): options under <see cref="BouncerEngineOptions"/>.</summary>
    public static BouncerBuilder AddBouncerCore(this IServiceCollection services, Action<BouncerEngineOptions>? configure = null) =>
        services.AddBouncerEngine(configure);

    /// <summary>
    /// The engine without ASP.NET Core, its options bound from <paramref name="configuration"/> (the <c>Bouncer</c>
    /// section: <c>configuration.GetSection("Bouncer")</c>; keys as the property names, nested ones as
    /// <c>Sessions:IdleTimeout</c>), then <paramref name="configure"/> if given. Validated at start, where a bad value
    /// is an error naming the setting.
    /// </summary>
    public static BouncerBuilder AddBouncerCore(this IServiceCollection services, IConfiguration configuration, Action<BouncerEngineOptions>? configure = null) =>
        services.AddBouncerEngine(configuration, configure);

    /// <summary>
    /// <see cref="AddBouncerEngine{TOptions}(IServiceCollection, Action{TOptions})"/> with the options bound from
    /// <paramref name="configuration"/> (a section such as <c>Bouncer</c>) before <paramref name="configure"/> runs.
    /// </summary>
    public static BouncerBuilder AddBouncerEngine<TOptions>(this IServiceCollection services, IConfiguration configuration, Action<TOptions>? configure = null)
        where TOptions : BouncerEngineOptions
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<TOptions>().Bind(configuration);
        return services.AddBouncerEngine(configure);
    }

    /// <summary>
    /// The engine with options of type <typeparamref name="TOptions"/> (a host's own options that extend
    /// <see cref="BouncerEngineOptions"/>, as Bouncer.AspNetCore's). Validated at start with <c>ValidateOnStart</c>.
    /// </summary>
    public static BouncerBuilder AddBouncerEngine<TOptions>(this IServiceCollection services, Action<TOptions>? configure = null)
        where TOptions : BouncerEngineOptions
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<TOptions>();
        if (configure is not null) options.Configure(configure);
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, BouncerOptionsValidator<TOptions>>());
        if (typeof(TOptions) != typeof(BouncerEngineOptions))
            services.TryAddSingleton<IOptions<BouncerEngineOptions>>(sp => Options.Options.Create<BouncerEngineOptions>(sp.GetRequiredService<IOptions<TOptions>>().Value));

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<BouncerStartupFault>();
        services.TryAddSingleton(sp => new BouncerMetrics(sp.GetService<IMeterFactory>()));
        services.TryAddSingleton(sp => new BouncerAudit(sp.GetService<ILoggerFactory>(), sp.GetRequiredService<BouncerMetrics>(), sp.GetRequiredService<TimeProvider>(), Stores(sp).Audit));
        services.TryAddSingleton<BouncerStores>(_ => throw new InvalidOperationException(
            "Bouncer has no store: add a backend to AddBouncer(...), e.g. .UseSqlite(\"bouncer.db\"), .UseRedis(\"localhost:6379\"), .UsePostgres(connectionString) or .UseMemory()."));

        services.TryAddSingleton(sp => new ProtectedSecretStore(Stores(sp).Secrets, SecretProtection.Resolve(sp, Engine(sp).KeyEncryption, Stores(sp))));
        services.TryAddSingleton(sp => new SecretsAtRest(Secrets(sp)));
        services.TryAddSingleton(sp => new RevocationListener(Stores(sp).Revocations, Engine(sp).Revocation, sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILoggerFactory>()?.CreateLogger<RevocationListener>(), sp.GetRequiredService<BouncerMetrics>()));
        services.TryAddSingleton(sp =>
        {
            var engine = Engine(sp);
            var time = sp.GetRequiredService<TimeProvider>();
            var cache = engine.NearCache is { } near ? new SessionCache(sp.GetRequiredService<RevocationListener>(), time, near) : null;
            return new SessionManager(Stores(sp).Sessions, Stores(sp).Revocations, time, engine.Sessions, cache,
                sp.GetRequiredService<BouncerAudit>(), sp.GetRequiredService<BouncerMetrics>(), sp.GetRequiredService<RevocationListener>());
        });
        services.TryAddSingleton(sp =>
        {
            var stores = Stores(sp);
            // Shared by every instance through the store: the stored value wins (a configured key only seeds a new
            // deployment), so instances never disagree on successors or anti-forgery tokens.
            var seed = Engine(sp).Refresh.DerivationKey ?? RandomNumberGenerator.GetBytes(32);
            var derivation = Block(Secrets(sp).GetOrAddAsync("refresh-derivation-key", Base64Url.EncodeToString(seed), default).AsTask());
            return new RefreshTokenService(stores.RefreshTokens, stores.Revocations, sp.GetRequiredService<TimeProvider>(), Engine(sp).Refresh, null,
                Base64Url.DecodeFromChars(derivation), sp.GetRequiredService<BouncerAudit>(), sp.GetRequiredService<BouncerMetrics>(),
                sp.GetRequiredService<UserDirectory>(), sp.GetRequiredService<RevocationListener>());
        });
        // The feed is keyed by default: a key shared by every instance through the store (ASVS 5.0 V8.2, no open data feed).
        services.TryAddSingleton(sp => new RevocationFeedKey(Block(Secrets(sp).GetOrAddAsync("revocation-feed-key",
            Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32)), default).AsTask())));
        services.TryAddSingleton(sp => new UserService(Stores(sp).Users, sp.GetRequiredService<TimeProvider>(), Engine(sp).Users));
        services.TryAddSingleton(sp => new UserDirectory(Stores(sp).Users, sp.GetRequiredService<RevocationListener>(), sp.GetRequiredService<TimeProvider>(), Engine(sp).NearCache));
        services.TryAddSingleton(sp => Block(BouncerTokens.LoadAsync(Secrets(sp), Engine(sp), sp.GetRequiredService<TimeProvider>(), default)));
        services.TryAddSingleton(sp =>
        {
            var keys = new KeyManager(sp.GetRequiredService<BouncerTokens>(), Stores(sp).Revocations, Engine(sp), sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<BouncerAudit>());
            // A key revoked on another instance stops signing and verifying here as soon as the announcement arrives.
            sp.GetRequiredService<RevocationListener>().Observe(r => keys.OnRevoked(r));
            return keys;
        });
        services.TryAddSingleton<IAccessTokenValidator>(sp => new AccessTokenValidator(sp.GetRequiredService<BouncerTokens>(), sp.GetRequiredService<RevocationListener>(), sp.GetRequiredService<BouncerMetrics>()));
        services.TryAddSingleton(sp =>
        {
            // One validator per process: its jti cache is shared by every verifier here (RFC 9449 11.1). The nonce secret
            // is the deployment's, through the store (sealed like the other secrets: whoever reads it mints nonces), so
            // any instance accepts a nonce another issued.
            var dpop = Engine(sp).Dpop;
            var time = sp.GetRequiredService<TimeProvider>();
            DpopNonces? nonces = null;
            if (dpop.RequireNonce)
            {
                var secret = Block(Secrets(sp).GetOrAddAsync("dpop-nonce-key", Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32)), default).AsTask());
                nonces = new DpopNonces(Base64Url.DecodeFromChars(secret), dpop.NonceLifetime, time);
            }
            return new DpopProofValidator(dpop, time, null, nonces);
        });
        services.TryAddSingleton(sp => new AccessManager(sp.GetRequiredService<SessionManager>(), sp.GetRequiredService<RefreshTokenService>(),
            sp.GetRequiredService<UserService>(), Stores(sp).Users, Stores(sp).Revocations, Engine(sp), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<UserDirectory>(), sp.GetRequiredService<BouncerAudit>()));
        services.TryAddSingleton<BouncerEngineService>();
        services.AddHostedService(sp => sp.GetRequiredService<BouncerEngineService>());
        return new BouncerBuilder(services);
    }

    private static BouncerStores Stores(IServiceProvider sp) => sp.GetRequiredService<BouncerStores>();

    // The store's secrets as the engine reads them: decrypted, and encrypted on write.
    private static ProtectedSecretStore Secrets(IServiceProvider sp) => sp.GetRequiredService<ProtectedSecretStore>();

    private static BouncerEngineOptions Engine(IServiceProvider sp) => sp.GetRequiredService<IOptions<BouncerEngineOptions>>().Value;

    // Services are ready when resolved: the few that load shared state from the store do it here, once. A host has
    // no synchronization context, so blocking cannot deadlock.
    private static T Block<T>(Task<T> task) => task.GetAwaiter().GetResult();
}
