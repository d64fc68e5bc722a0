using System.Globalization;
using Bouncer.Revocation;
using StackExchange.Redis;

namespace Bouncer.Stores.Redis;

/// <summary>
/// Carries revocations between Bouncer instances through Redis: a durable log in sorted sets plus a
/// pub/sub push. Point every instance of a deployment at the same server and key prefix.
/// </summary>
/// <remarks>
/// <para><b>Key layout.</b> Three keys under one hash tag (one Cluster slot), so a publish is one script:</para>
/// <list type="bullet">
/// <item><c>{prefix}{{prefix}revocations}:cursor</c>: the last cursor handed out (<c>INCR</c>). It never
/// expires: a cursor that restarted at 1 would hide new entries from every listener already past it.</item>
/// <item><c>{prefix}{{prefix}revocations}:log</c>: a sorted set scored by cursor; each member is
/// <c>cursor|kind|at|expires|subject</c> (instants in Unix ms), so the cursor keeps members unique.</item>
/// <item><c>{prefix}{{prefix}revocations}:expiry</c>: a sorted set of cursors scored by ExpiresAt (Unix ms),
/// which <see cref="PruneAsync"/> reads to find what to delete.</item>
/// </list>
/// <para>The push carries the log member. On a single server it goes out with <c>PUBLISH</c> on the channel
/// <c>{prefix}revocations</c>. On Redis Cluster it goes out with sharded pub/sub (<c>SPUBLISH</c>/<c>SSUBSCRIBE</c>,
/// Redis 7) on the shard channel <c>{prefix}{{prefix}revocations}</c>: it has the log's hash tag, so the master that
/// keeps the log also carries the push, and nothing else on the cluster bus hears it (a plain <c>PUBLISH</c> goes
/// to every node of the cluster). The kind of server is read from the connection when the channel is first used.
/// Pub/sub channels ignore the database number, so two deployments on one server need different prefixes.</para>
/// <para><b>Ordering and loss.</b> The publish script increments the cursor, appends to the log and
/// <c>PUBLISH</c>es in one atomic step, so entries are durable before anyone hears of them and pushes go
/// out in cursor order. A push can still be lost (pub/sub is fire-and-forget, and a dropped subscriber
/// connection misses everything until it is back); the log is not, and a subscriber replays it on
/// <see cref="IRevocationSubscriber.OnConnected"/>. Durability across a Redis crash is Redis's: with
/// <c>appendfsync always</c> a confirmed publish survives a kill -9 (see docs/redis.md).</para>
/// <para><b>Connection events.</b> The channel maps the multiplexer's <c>ConnectionFailed</c> and
/// <c>ConnectionRestored</c> events for <see cref="ConnectionType.Subscription"/> connections to
/// <see cref="IRevocationSubscriber.OnDisconnected"/> and <see cref="IRevocationSubscriber.OnConnected"/>; on a
/// cluster only those of the node the shard channel is subscribed on count (another node's failure loses no push).
/// When that node fails over, its promoted replica takes the subscription (StackExchange.Redis moves it once it
/// learns the new slot map) and OnConnected follows, so the replay covers what was published meanwhile.
/// After a restore it waits until the channel is resubscribed (a <c>PING</c> on the subscription connection
/// answers after the resubscription sent before it) before calling OnConnected, so the replay that follows
/// does not start before pushes flow again.</para>
/// <para>Thread-safe. The caller owns the connection.</para>
/// <example>
/// <code>
/// var channel = new RedisRevocationChannel(redis, new RedisStoreOptions { KeyPrefix = "myapp:" });
/// await using var listener = new RevocationListener(channel, new RevocationOptions(), TimeProvider.System);
/// await listener.StartAsync(ct);
/// </code>
/// </example>
/// </remarks>
public sealed class RedisRevocationChannel : IRevocationChannel
{
    // KEYS[1] cursor, KEYS[2] log, KEYS[3] expiry. ARGV: "kind|at|expires|subject", expires ms, channel.
    // Cursor, log and push in one atomic step: no reader sees cursor n+1 before n, and pushes leave in order.
    private const string PublishScript = """
        local c = redis.call('INCR', KEYS[1])
        local m = c .. '|' .. ARGV[1]
        redis.call('ZADD', KEYS[2], c, m)
        redis.call('ZADD', KEYS[3], ARGV[2], c)
        redis.call('PUBLISH', ARGV[3], m)
        return c
        """;

    // The same on Redis Cluster, pushed with SPUBLISH: the shard channel has the keys' hash tag, so a script
    // bound to their slot may publish on it (Redis refuses a shard channel of another slot in a script).
    private const string ShardedPublishScript = """
        local c = redis.call('INCR', KEYS[1])
        local m = c .. '|' .. ARGV[1]
        redis.call('ZADD', KEYS[2], c, m)
        redis.call('ZADD', KEYS[3], ARGV[2], c)
        redis.call('SPUBLISH', ARGV[3], m)
        return c
        """;

    // KEYS[1] log, KEYS[2] expiry. ARGV: now ms, batch size. Deletes up to a batch of entries whose expiry
    // is at or before now; returns how many.
    private const string PruneScript = """
        local cs = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
        for _, c in ipairs(cs) do
          redis.call('ZREMRANGEBYSCORE', KEYS[1], c, c)
          redis.call('ZREM', KEYS[2], c)
        end
        return #cs
        """;

    // Bounds the work of one script call: Redis runs nothing else while a script runs.
    private const int PruneBatch = 1000;

    private static readonly TimeSpan ResubscribeTimeout = TimeSpan.FromSeconds(30);

    // How long a publish or subscribe waits for the first connection to learn the topology.
    private static readonly TimeSpan TopologyTimeout = TimeSpan.FromSeconds(30);

    private readonly IConnectionMultiplexer _redis;
    private readonly IDatabase _db;
    private readonly RedisKey _cursorKey, _logKey, _expiryKey;
    private readonly RedisChannel _plainChannel, _shardChannel;
    // 0 not known yet, 1 single server, 2 cluster: read from the first connected server, then kept.
    private int _topology;

    /// <summary>Uses a connection the caller owns (and disposes).</summary>
    /// <exception cref="ArgumentException">The key prefix contains a brace.</exception>
    public RedisRevocationChannel(IConnectionMultiplexer redis, RedisStoreOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        options ??= new RedisStoreOptions();
        options.Validate();
        _redis = redis;
        _db = redis.GetDatabase(options.Database);
        // The tag holds the prefix, so two deployments on one Cluster do not share a slot (and it is never
        // empty: an empty tag would hash each key whole and split the log across slots).
        var tag = $"{options.KeyPrefix}{{{options.KeyPrefix}revocations}}";
        _cursorKey = tag + ":cursor";
        _logKey = tag + ":log";
        _expiryKey = tag + ":expiry";
        _plainChannel = RedisChannel.Literal(options.KeyPrefix + "revocations");
        _shardChannel = RedisChannel.Sharded(tag);
    }

    /// <inheritdoc/>
    public async ValueTask<long> PublishAsync(RevocationRecord revocation, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(revocation.Subject);
        ct.ThrowIfCancellationRequested();
        var expires = revocation.ExpiresAt.ToUnixTimeMilliseconds();
        var body = string.Create(CultureInfo.InvariantCulture,
            $"{(byte)revocation.Kind}|{revocation.At.ToUnixTimeMilliseconds()}|{expires}|{revocation.Subject}");
        var cluster = await IsClusterAsync(ct).ConfigureAwait(false);
        var cursor = await _db.ScriptEvaluateAsync(cluster ? ShardedPublishScript : PublishScript, [_cursorKey, _logKey, _expiryKey],
            [body, expires, (cluster ? _shardChannel : _plainChannel).ToString()]).WaitAsync(ct).ConfigureAwait(false);
        return (long)cursor;
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<RevocationEntry>> ReadAfterAsync(long cursor, int max, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(max);
        ct.ThrowIfCancellationRequested();
        // (cursor, +inf]: Exclude.Start makes the lower bound exclusive.
        var members = await _db.SortedSetRangeByScoreAsync(_logKey, cursor, double.PositiveInfinity, Exclude.Start, Order.Ascending, 0, max)
            .WaitAsync(ct).ConfigureAwait(false);
        var entries = new List<RevocationEntry>(members.Length);
        foreach (var m in members)
        {
            if (TryParse(m, out var entry)) entries.Add(entry);
        }
        return entries;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Calls <see cref="IRevocationSubscriber.OnConnected"/> once the subscription is in place, before
    /// returning. Handlers run on StackExchange.Redis's threads: keep them short (the listener's are).
    /// </remarks>
    public async ValueTask<IAsyncDisposable> SubscribeAsync(IRevocationSubscriber subscriber, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        ct.ThrowIfCancellationRequested();
        // The channel depends on the topology, so it is known before subscribing: a plain SUBSCRIBE on a cluster
        // would never hear the SPUBLISH of later publishes. The subscription keeps the channel it subscribed to.
        var cluster = await IsClusterAsync(ct).ConfigureAwait(false);
        var subscription = new Subscription(this, subscriber, cluster ? _shardChannel : _plainChannel, cluster);
        // Events first: a drop during SUBSCRIBE is then reported, not missed.
        _redis.ConnectionFailed += subscription.OnConnectionFailed;
        _redis.ConnectionRestored += subscription.OnConnectionRestored;
        try
        {
            await _redis.GetSubscriber().SubscribeAsync(subscription.Channel, subscription.OnMessage).WaitAsync(ct).ConfigureAwait(false);
            subscription.RememberEndpoint();
        }
        catch
        {
            await subscription.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        subscriber.OnConnected();
        return subscription;
    }

    /// <inheritdoc/>
    public async ValueTask<int> PruneAsync(DateTimeOffset now, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var nowMs = now.ToUnixTimeMilliseconds();
        var total = 0;
        while (true)
        {
            var n = (int)(long)await _db.ScriptEvaluateAsync(PruneScript, [_logKey, _expiryKey], [nowMs, PruneBatch]).WaitAsync(ct).ConfigureAwait(false);
            total += n;
            if (n < PruneBatch) return total;
        }
    }

    // ---- key layout (internal: the tests check Cluster slots and persistence through these) ----

    internal RedisKey CursorKey => _cursorKey;

    internal RedisKey LogKey => _logKey;

    internal RedisKey ExpiryKey => _expiryKey;

    /// <summary>The channel pushes travel on: the shard channel on a cluster, the plain one on a single server.</summary>
    internal RedisChannel Channel => IsCluster ? _shardChannel : _plainChannel;

    // A cluster node says so in its server type; an unconnected multiplexer says nothing yet, and is then asked
    // again next time (a plain channel would be wrong on a cluster: SSUBSCRIBE listeners never hear a PUBLISH).
    // False while unknown: callers that choose a channel resolve it first (IsClusterAsync).
    internal bool IsCluster => TryTopology() == 2;

    private int TryTopology()
    {
        var known = Volatile.Read(ref _topology);
        if (known != 0) return known;
        foreach (var server in _redis.GetServers())
        {
            if (!server.IsConnected) continue;
            known = server.ServerType == ServerType.Cluster ? 2 : 1;
            Volatile.Write(ref _topology, known);
            return known;
        }
        return 0;
    }

    /// <summary>
    /// The topology, waiting for the multiplexer's first connection (one made with abortConnect=false may still be
    /// connecting) instead of guessing "single server": up to <see cref="TopologyTimeout"/>, then a
    /// <see cref="RedisConnectionException"/>, so the caller sees an outage rather than a channel that is never heard.
    /// </summary>
    private async ValueTask<bool> IsClusterAsync(CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TopologyTimeout;
        while (true)
        {
            var known = TryTopology();
            if (known != 0) return known == 2;
            if (DateTime.UtcNow >= deadline)
                throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, CommandFlags.None,
                    $"no Redis server connected within {TopologyTimeout.TotalSeconds:0} s: cannot tell a cluster from a single server", null, CommandStatus.Unknown);
            await Task.Delay(50, ct).ConfigureAwait(false);
        }
    }

    // ---- helpers ----

    // "cursor|kind|at|expires|subject": the subject is last and may itself contain '|'.
    internal static bool TryParse(RedisValue member, out RevocationEntry entry)
    {
        entry = default;
        var s = (string?)member;
        if (s is null) return false;
        Span<Range> parts = stackalloc Range[5];
        if (s.AsSpan().Split(parts, '|') != 5) return false;
        var span = s.AsSpan();
        if (!long.TryParse(span[parts[0]], NumberStyles.None, CultureInfo.InvariantCulture, out var cursor)
            || !byte.TryParse(span[parts[1]], NumberStyles.None, CultureInfo.InvariantCulture, out var kind)
            || !long.TryParse(span[parts[2]], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var at)
            || !long.TryParse(span[parts[3]], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var expires))
            return false;
        entry = new RevocationEntry(cursor, new RevocationRecord((RevocationKind)kind, s[parts[4]],
            DateTimeOffset.FromUnixTimeMilliseconds(at), DateTimeOffset.FromUnixTimeMilliseconds(expires)));
        return true;
    }

    private sealed class Subscription(RedisRevocationChannel channel, IRevocationSubscriber subscriber, RedisChannel subscribed, bool cluster) : IAsyncDisposable
    {
        /// <summary>The channel this subscription is on, kept for its lifetime (resubscribe checks, unsubscribe).</summary>
        public RedisChannel Channel => subscribed;

        private volatile bool _disposed;
        private int _drops;
        // Cluster only: the node the shard channel is subscribed on (null when unknown, e.g. mid-failover).
        private volatile string? _endpoint;

        public void OnMessage(RedisChannel _, RedisValue message)
        {
            // A malformed message is not ours to act on; the log replay is the source of truth anyway.
            if (!_disposed && TryParse(message, out var entry)) subscriber.OnPushed(entry);
        }

        /// <summary>Notes which node carries the subscription (cluster only: a single server has one).</summary>
        public void RememberEndpoint()
        {
            if (cluster) _endpoint = channel._redis.GetSubscriber().SubscribedEndpoint(subscribed)?.ToString();
        }

        public void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
        {
            if (_disposed || e.ConnectionType != ConnectionType.Subscription || !Concerns(e)) return;
            // A newer drop cancels any confirmation still running for an older restore.
            var drops = Interlocked.Increment(ref _drops);
            subscriber.OnDisconnected();
            // On a cluster the node may never come back (its replica is promoted instead): no ConnectionRestored
            // would follow, so wait for the subscription to reappear on whichever node now serves the slot.
            if (cluster)
            {
                _endpoint = null;
                _ = Task.Run(() => ConfirmResubscribedAsync(drops, giveUp: false));
            }
        }

        public void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
        {
            if (_disposed || e.ConnectionType != ConnectionType.Subscription || !Concerns(e)) return;
            var drops = Volatile.Read(ref _drops);
            _ = Task.Run(() => ConfirmResubscribedAsync(drops, giveUp: true));
        }

        // A single server has one subscription connection. On a cluster there is one per node, and only the
        // failure of the node carrying the shard channel loses pushes; while that node is unknown (mid-failover),
        // any node's restore may be the one that carries the subscription again.
        private bool Concerns(ConnectionFailedEventArgs e)
        {
            if (!cluster) return true;
            var endpoint = _endpoint;
            return endpoint is null || string.Equals(endpoint, e.EndPoint?.ToString(), StringComparison.Ordinal);
        }

        // StackExchange.Redis resubscribes by itself after a reconnect (on a cluster, on the node that serves the
        // slot now). Wait for it, then ping on the subscription connection: replies come in order, so the PING's
        // means the SUBSCRIBE went through. After a restore it never gives up silently (a listener left
        // "disconnected" would call itself stale for good); after a cluster node's failure it waits as long as it
        // takes, since saying "connected" while no node carries the subscription would hide lost pushes.
        private async Task ConfirmResubscribedAsync(int drops, bool giveUp)
        {
            var sub = channel._redis.GetSubscriber();
            var deadline = DateTime.UtcNow + ResubscribeTimeout;
            while (!_disposed && Volatile.Read(ref _drops) == drops && (!giveUp || DateTime.UtcNow < deadline))
            {
                try
                {
                    if (sub.IsConnected(subscribed))
                    {
                        // On a cluster: subscribed again, on a node that is up (not the one that just failed).
                        var endpoint = sub.SubscribedEndpoint(subscribed);
                        if (!cluster || (endpoint is not null && channel._redis.GetServer(endpoint).IsConnected))
                        {
                            await sub.PingAsync().ConfigureAwait(false);
                            if (cluster) _endpoint = endpoint!.ToString();
                            break;
                        }
                    }
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    // Not ready yet (or dropped again, and then a newer drop ends this loop): try again.
                }
                await Task.Delay(50).ConfigureAwait(false);
            }
            // Past the deadline still say "connected" (the replay it triggers can only help, and the
            // listener's periodic replay covers pushes missed meanwhile), unless a newer drop happened.
            if (!_disposed && Volatile.Read(ref _drops) == drops) subscriber.OnConnected();
        }

        public async ValueTask DisposeAsync()
        {
            if (_disposed) return;
            _disposed = true;
            channel._redis.ConnectionFailed -= OnConnectionFailed;
            channel._redis.ConnectionRestored -= OnConnectionRestored;
            try
            {
                await channel._redis.GetSubscriber().UnsubscribeAsync(subscribed, OnMessage).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
            {
                // The connection is down: the server dropped the subscription with it.
            }
        }
    }
}
