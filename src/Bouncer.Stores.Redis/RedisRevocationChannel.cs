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
/// <para>The push goes on the pub/sub channel <c>{prefix}revocations</c> and carries the log member. Pub/sub
/// channels ignore the database number, so two deployments on one server need different prefixes.</para>
/// <para><b>Ordering and loss.</b> The publish script increments the cursor, appends to the log and
/// <c>PUBLISH</c>es in one atomic step, so entries are durable before anyone hears of them and pushes go
/// out in cursor order. A push can still be lost (pub/sub is fire-and-forget, and a dropped subscriber
/// connection misses everything until it is back); the log is not, and a subscriber replays it on
/// <see cref="IRevocationSubscriber.OnConnected"/>. Durability across a Redis crash is Redis's: with
/// <c>appendfsync always</c> a confirmed publish survives a kill -9 (see docs/redis.md).</para>
/// <para><b>Connection events.</b> The channel maps the multiplexer's <c>ConnectionFailed</c> and
/// <c>ConnectionRestored</c> events for <see cref="ConnectionType.Subscription"/> connections to
/// <see cref="IRevocationSubscriber.OnDisconnected"/> and <see cref="IRevocationSubscriber.OnConnected"/>.
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

    private readonly IConnectionMultiplexer _redis;
    private readonly IDatabase _db;
    private readonly RedisKey _cursorKey, _logKey, _expiryKey;
    private readonly RedisChannel _channel;

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
        _channel = RedisChannel.Literal(options.KeyPrefix + "revocations");
    }

    /// <inheritdoc/>
    public async ValueTask<long> PublishAsync(RevocationRecord revocation, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(revocation.Subject);
        ct.ThrowIfCancellationRequested();
        var expires = revocation.ExpiresAt.ToUnixTimeMilliseconds();
        var body = string.Create(CultureInfo.InvariantCulture,
            $"{(byte)revocation.Kind}|{revocation.At.ToUnixTimeMilliseconds()}|{expires}|{revocation.Subject}");
        var cursor = await _db.ScriptEvaluateAsync(PublishScript, [_cursorKey, _logKey, _expiryKey],
            [body, expires, _channel.ToString()]).WaitAsync(ct).ConfigureAwait(false);
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
        var subscription = new Subscription(this, subscriber);
        // Events first: a drop during SUBSCRIBE is then reported, not missed.
        _redis.ConnectionFailed += subscription.OnConnectionFailed;
        _redis.ConnectionRestored += subscription.OnConnectionRestored;
        try
        {
            await _redis.GetSubscriber().SubscribeAsync(_channel, subscription.OnMessage).WaitAsync(ct).ConfigureAwait(false);
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

    internal RedisChannel Channel => _channel;

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

    private sealed class Subscription(RedisRevocationChannel channel, IRevocationSubscriber subscriber) : IAsyncDisposable
    {
        private volatile bool _disposed;
        private int _drops;

        public void OnMessage(RedisChannel _, RedisValue message)
        {
            // A malformed message is not ours to act on; the log replay is the source of truth anyway.
            if (!_disposed && TryParse(message, out var entry)) subscriber.OnPushed(entry);
        }

        public void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
        {
            if (_disposed || e.ConnectionType != ConnectionType.Subscription) return;
            // A newer drop cancels any confirmation still running for an older restore.
            Interlocked.Increment(ref _drops);
            subscriber.OnDisconnected();
        }

        public void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
        {
            if (_disposed || e.ConnectionType != ConnectionType.Subscription) return;
            var drops = Volatile.Read(ref _drops);
            _ = Task.Run(() => ConfirmResubscribedAsync(drops));
        }

        // StackExchange.Redis resubscribes by itself after a reconnect. Wait for it, then ping on the
        // subscription connection: replies come in order, so the PING's means the SUBSCRIBE went through.
        // Never gives up silently: a listener left "disconnected" would call itself stale for good.
        private async Task ConfirmResubscribedAsync(int drops)
        {
            var sub = channel._redis.GetSubscriber();
            var deadline = DateTime.UtcNow + ResubscribeTimeout;
            while (!_disposed && Volatile.Read(ref _drops) == drops && DateTime.UtcNow < deadline)
            {
                try
                {
                    if (sub.IsConnected(channel._channel))
                    {
                        await sub.PingAsync().ConfigureAwait(false);
                        break;
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
                await channel._redis.GetSubscriber().UnsubscribeAsync(channel._channel, OnMessage).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
            {
                // The connection is down: the server dropped the subscription with it.
            }
        }
    }
}
