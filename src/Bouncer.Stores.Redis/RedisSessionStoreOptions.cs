namespace Bouncer.Stores.Redis;

/// <summary>Settings of a <see cref="RedisSessionStore"/>. Read once, when the store is built.</summary>
public sealed class RedisSessionStoreOptions
{
    /// <summary>
    /// Put before every key the store writes (default <c>bouncer:</c>), so several apps or tests can share
    /// one database. Must not contain <c>{</c> or <c>}</c>: Redis Cluster would take a brace in the prefix
    /// as the hash tag and put every key of the store in one slot.
    /// </summary>
    public string KeyPrefix { get; set; } = "bouncer:";

    /// <summary>
    /// The clock Redis TTLs are computed from; use the same one as the <c>SessionManager</c> (default
    /// <see cref="TimeProvider.System"/>). TTL = ExpiresAt - now + <see cref="TtlSlack"/>.
    /// </summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// How long Redis keeps a record after its ExpiresAt (default 5 minutes). The engine decides
    /// validity with its own clock; the TTL is only garbage collection, set late enough that clock skew
    /// between app servers and Redis never drops a session the engine still considers live.
    /// </summary>
    public TimeSpan TtlSlack { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The logical database (default -1: the connection's default). Redis Cluster has only 0.</summary>
    public int Database { get; set; } = -1;
}
