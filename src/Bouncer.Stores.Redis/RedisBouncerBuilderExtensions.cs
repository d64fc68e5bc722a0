using Bouncer;
using Bouncer.Stores.Redis;
using Microsoft.Extensions.Configuration;
using StackExchange.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The Redis backend of <see cref="BouncerBuilder"/>: every store on one Redis deployment (single node or cluster).</summary>
public static class RedisBouncerBuilderExtensions
{
    // How start-up errors name the setting at fault in an app (a host rewords it: the server says Bouncer:Connection).
    private const string Setting = "UseRedis configuration";

    /// <summary>
    /// Connects to Redis with a StackExchange.Redis configuration string (<c>host:port[,password=...]</c>) and keeps
    /// every store there under <paramref name="keyPrefix"/>; revocations travel over pub/sub. The connection
    /// reconnects by itself after a restart; an unreachable server at start is an error naming the endpoint.
    /// </summary>
    public static BouncerBuilder UseRedis(this BouncerBuilder builder, string configuration, string keyPrefix = "bouncer:")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(configuration);
        var parsed = Parse(configuration);
        CheckPrefix(keyPrefix);
        return builder.UseStores(sp => Connect(configuration, parsed, keyPrefix, sp));
    }

    /// <summary>
    /// <see cref="UseRedis(BouncerBuilder, string, string)"/> with the server named by configuration: at start it reads
    /// <c>ConnectionStrings:Bouncer</c> (or <c>ConnectionStrings:&lt;connectionStringName&gt;</c>) from
    /// <paramref name="configuration"/>, a StackExchange.Redis configuration string such as <c>localhost:6379</c>.
    /// </summary>
    /// <param name="builder">The Bouncer builder.</param>
    /// <param name="configuration">The app's configuration root (<c>builder.Configuration</c>).</param>
    /// <param name="connectionStringName">The name under <c>ConnectionStrings</c>; default <c>Bouncer</c>.</param>
    /// <param name="keyPrefix">The prefix of every key, so deployments can share a server.</param>
    /// <exception cref="InvalidOperationException">At start, when the setting is missing, blank or not a Redis
    /// configuration, or the server is unreachable: one line naming it.</exception>
    public static BouncerBuilder UseRedis(this BouncerBuilder builder, IConfiguration configuration, string connectionStringName = "Bouncer", string keyPrefix = "bouncer:")
    {
        ArgumentNullException.ThrowIfNull(builder);
        CheckPrefix(keyPrefix);
        return builder.UseStores(configuration, connectionStringName, (sp, connection) => Connect(connection, Parse(connection), keyPrefix, sp));
    }

    private static ConfigurationOptions Parse(string configuration)
    {
        try { return ConfigurationOptions.Parse(configuration); }
        catch (ArgumentException ex) { throw new BouncerConfigurationException(Setting, "not a valid Redis configuration: " + ex.Message, ex); }
    }

    // Checked before connecting, so a bad prefix cannot leave a connection behind.
    private static void CheckPrefix(string keyPrefix)
    {
        try { new RedisStoreOptions { KeyPrefix = keyPrefix }.Validate(); }
        catch (ArgumentException ex) { throw new BouncerConfigurationException("UseRedis keyPrefix", "not a valid Redis key prefix: " + ex.Message, ex); }
    }

    /// <summary>The stores' defaults for every option <paramref name="configuration"/> leaves unset (by option name).</summary>
    internal static ConfigurationOptions ApplyDefaults(string configuration, ConfigurationOptions parsed)
    {
        // A server reconnects by itself after a Redis restart; a caller that asked for abortConnect (a CLI) keeps it.
        if (!RedisConfigurationKeys.Sets(configuration, "abortConnect")) parsed.AbortOnConnectFail = false;
        // Bounded waits: a request during an outage answers 503 in about a second instead of hanging 5 s.
        if (!RedisConfigurationKeys.Sets(configuration, "asyncTimeout")) parsed.AsyncTimeout = 1000;
        if (!RedisConfigurationKeys.Sets(configuration, "syncTimeout")) parsed.SyncTimeout = 1000;
        return parsed;
    }

    private static BouncerStores Connect(string configuration, ConfigurationOptions parsed, string keyPrefix, IServiceProvider sp)
    {
        var redis = ConnectionMultiplexer.Connect(ApplyDefaults(configuration, parsed));
        try
        {
            // Fail at start with a clear message rather than at the first login.
            redis.GetDatabase().Ping();
        }
        catch (RedisException ex)
        {
            redis.Dispose();
            throw new BouncerConfigurationException(Setting, $"Redis at '{parsed.EndPoints.FirstOrDefault()}' is unreachable: {ex.Message.Split('\n')[0].Split(" - Last Connection Exception")[0]}", ex);
        }
        return Create(redis, keyPrefix, sp, owned: true);
    }

    /// <summary>Keeps every store on an existing connection (the app's own multiplexer, which it disposes).</summary>
    public static BouncerBuilder UseRedis(this BouncerBuilder builder, IConnectionMultiplexer redis, string keyPrefix = "bouncer:")
    {
        ArgumentNullException.ThrowIfNull(redis);
        return builder.UseStores(sp => Create(redis, keyPrefix, sp, owned: false));
    }

    private static BouncerStores Create(IConnectionMultiplexer redis, string keyPrefix, IServiceProvider sp, bool owned)
    {
        var time = sp.GetService<TimeProvider>() ?? TimeProvider.System;
        var keys = new RedisStoreOptions { KeyPrefix = keyPrefix, TimeProvider = time };
        var name = $"redis {string.Join(",", redis.GetEndPoints().Select(e => e.ToString()))} prefix {keyPrefix}";
        return new BouncerStores(new RedisSessionStore(redis, keys),
            new RedisRefreshTokenStore(redis, keys), new RedisUserStore(redis, keys), new RedisSecretStore(redis, keys), new RedisRevocationChannel(redis, keys),
            new RedisAuditStore(redis, keys),
            name, owned ? [redis] : []);
    }
}
