namespace Bouncer.Stores.Redis;

/// <summary>
/// Settings of every Redis store: <see cref="RedisSessionStore"/>, <see cref="RedisRefreshTokenStore"/>,
/// <see cref="RedisUserStore"/>, <see cref="RedisSecretStore"/>, <see cref="RedisRevocationChannel"/> and
/// <see cref="RedisAuditStore"/>.
/// Read once, when a store is built. Give every store of one deployment the same values.
/// </summary>
public sealed class RedisStoreOptions
{
    /// <summary>
    /// Put before every key and channel name (default <c>bouncer:</c>), so several apps or tests can share one
    /// database. Must not contain <c>{</c> or <c>}</c>: Redis Cluster would take a brace in the prefix as the
    /// hash tag and put every key in one slot.
    /// </summary>
    public string KeyPrefix { get; set; } = "bouncer:";

    /// <summary>
    /// The clock Redis TTLs are computed from; use the engine's, e.g. the <c>SessionManager</c>'s (default
    /// <see cref="TimeProvider.System"/>). TTL = expiry - now + <see cref="TtlSlack"/>.
    /// </summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// How long Redis keeps a record after the engine's expiry (default 5 minutes). The engine decides
    /// validity with its own clock; the TTL is only garbage collection, set late enough that clock skew
    /// between app servers and Redis never drops a record the engine still considers live.
    /// </summary>
    public TimeSpan TtlSlack { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The logical database (default -1: the connection's default). Redis Cluster has only 0.</summary>
    public int Database { get; set; } = -1;

    /// <summary>Checks the settings a store is about to read.</summary>
    /// <exception cref="ArgumentNullException">The prefix or the clock is null.</exception>
    /// <exception cref="ArgumentException">The prefix contains a brace, or the slack is negative.</exception>
    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(KeyPrefix);
        ArgumentNullException.ThrowIfNull(TimeProvider);
        if (KeyPrefix.AsSpan().IndexOfAny('{', '}') >= 0)
            throw new ArgumentException("The key prefix must not contain '{' or '}': Redis Cluster would read it as the hash tag.", "options");
        if (TtlSlack < TimeSpan.Zero) throw new ArgumentException("The TTL slack must not be negative.", "options");
    }
}
