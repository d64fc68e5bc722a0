using Bouncer.Revocation;
using Bouncer.Sessions;
using Bouncer.Stores.Redis;
using Bouncer.Tests;
using StackExchange.Redis;

namespace Bouncer.Stores.Tests;

/// <summary>
/// A master of the cluster dies (SIGKILL) and its replica is promoted: sessions committed before keep working,
/// and revocations keep reaching a running listener, the ones published while its subscription moved included
/// (the replay from the log, which the replica has, covers the gap). The killed node is started again at the end,
/// pass or fail, and rejoins as a replica, so the collection's cluster is whole for the next test.
/// </summary>
[Collection(RedisClusterCollection.Name)]
public sealed class RedisClusterFailoverTests(RedisClusterServer cluster) : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly ManualClock _clock = new();
    private readonly string _prefix = $"bt:{Guid.NewGuid():N}:";
    private readonly List<IAsyncDisposable> _owned = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var o in Enumerable.Reverse(_owned)) await o.DisposeAsync();
    }

    [RedisClusterKillFact]
    public async Task MasterKilled_ReplicaPromoted_SessionsCommittedBefore_StillWork_AndRevocationsKeepArriving()
    {
        var options = new RedisStoreOptions { KeyPrefix = _prefix, TimeProvider = _clock };
        var app = await ConnectAsync();
        var sessions = new SessionManager(new RedisSessionStore(app, options), new InProcessRevocationChannel(), _clock);
        var publisher = new RedisRevocationChannel(await ConnectAsync(), options);
        // The listener hears its channel through a gate the test closes across the failover: pushes are dropped and
        // "connected" is held back until the gap is published, so only the replay on reconnect can deliver the gap.
        var gate = new GatedChannel(new RedisRevocationChannel(await ConnectAsync(), options));
        var listener = new RevocationListener(gate, new RevocationOptions { ReplayInterval = TimeSpan.FromHours(1) }, _clock);
        _owned.Add(listener);
        await listener.StartAsync(default);

        var live = new List<(string User, string Id)>();
        for (var i = 0; i < 30; i++) live.Add(("user" + i, (await sessions.CreateAsync("user" + i, "{\"n\":" + i + "}", null, default)).Id));
        await publisher.PublishAsync(Sid("before"), default);
        await Eventually(() => listener.Set.IsSessionRevoked("before"), "the push before the kill");

        // Kill the master that keeps the revocation log, and with it the listener's subscription. Its replica must
        // have every write first: replication is asynchronous, and what it lacks is lost with the master (a
        // deployment that needs more than Redis's best effort uses WAIT; docs/redis.md).
        var slot = RedisClusterSlot.Of((string)publisher.LogKey!);
        var victim = cluster.MasterPortOf(slot);
        cluster.WaitForReplicas(victim, TimeSpan.FromSeconds(10));
        var store = new RedisSessionStore(app, options);
        var onVictim = live.Count(s => SessionId.TryGetKey(s.Id, out var key) && cluster.MasterPortOf(RedisClusterSlot.Of((string)store.RecordKey(key)!)) == victim);
        Assert.True(onVictim > 0, "no session lives on the master about to die");
        gate.Close();
        cluster.Kill(victim);
        try
        {
            await FailoverAsync();
        }
        finally
        {
            // Whatever failed above, the shared cluster gets its node back.
            cluster.Restart(victim);
        }

        async Task FailoverAsync()
        {
            await Eventually(() => !listener.IsConnected, "the listener saw its node go");

            var promoted = cluster.WaitForPromotion(slot, victim, Deadline);
            Assert.NotEqual(victim, promoted);
            // Published while the listener is disconnected (the gate holds its reconnect back): no push can deliver it.
            var gap = await PublishWhenBackAsync(publisher, Sid("gap"));
            Assert.False(listener.IsConnected);
            Assert.False(listener.Set.IsSessionRevoked("gap"));
            gate.Open();

            await Eventually(() => listener.IsConnected && listener.Set.IsSessionRevoked("gap"), "the listener back, with the gap replayed");
            var after = await publisher.PublishAsync(Sid("after"), default);
            await Eventually(() => listener.Set.IsSessionRevoked("after") && listener.Cursor == after, "a push after the failover");
            Assert.True(after > gap);
            foreach (var sid in new[] { "before", "gap", "after" })
                Assert.Equal(RevocationVerdict.Revoked, await listener.CheckAsync(sid, null, null, 0, default));

            foreach (var (user, id) in live)
            {
                var found = await EventuallyValue(() => sessions.GetAsync(id, default).AsTask(), $"{user}'s session after the failover");
                Assert.Equal(user, found.UserId);
            }
            var rotated = await sessions.RotateAsync(live[0].Id, default);
            Assert.NotNull(rotated);
            Assert.Equal(1, await sessions.DeleteUserAsync(live[1].User, default));
        }
    }

    /// <summary>
    /// A revocation channel whose subscriber can be cut off: while closed, pushes are dropped and "connected" is held
    /// (the last one is passed on when it opens), as if the subscription were still gone.
    /// </summary>
    private sealed class GatedChannel(IRevocationChannel inner) : IRevocationChannel
    {
        private readonly Lock _lock = new();
        private IRevocationSubscriber? _subscriber;
        private bool _closed, _connectedHeld;

        public void Close()
        {
            lock (_lock) _closed = true;
        }

        public void Open()
        {
            IRevocationSubscriber? release;
            lock (_lock)
            {
                _closed = false;
                release = _connectedHeld ? _subscriber : null;
                _connectedHeld = false;
            }
            release?.OnConnected();
        }

        public ValueTask<long> PublishAsync(RevocationRecord revocation, CancellationToken ct) => inner.PublishAsync(revocation, ct);

        public ValueTask<IReadOnlyList<RevocationEntry>> ReadAfterAsync(long cursor, int max, CancellationToken ct) => inner.ReadAfterAsync(cursor, max, ct);

        public ValueTask<int> PruneAsync(DateTimeOffset now, CancellationToken ct) => inner.PruneAsync(now, ct);

        public ValueTask<IAsyncDisposable> SubscribeAsync(IRevocationSubscriber subscriber, CancellationToken ct)
        {
            _subscriber = subscriber;
            return inner.SubscribeAsync(new Gate(this, subscriber), ct);
        }

        private sealed class Gate(GatedChannel channel, IRevocationSubscriber subscriber) : IRevocationSubscriber
        {
            public void OnPushed(RevocationEntry entry)
            {
                lock (channel._lock) if (channel._closed) return;
                subscriber.OnPushed(entry);
            }

            public void OnConnected()
            {
                lock (channel._lock)
                {
                    if (channel._closed)
                    {
                        channel._connectedHeld = true;
                        return;
                    }
                }
                subscriber.OnConnected();
            }

            public void OnDisconnected()
            {
                lock (channel._lock) channel._connectedHeld = false;
                subscriber.OnDisconnected();
            }
        }
    }

    private RevocationRecord Sid(string sid) => new(RevocationKind.Session, sid, _clock.GetUtcNow(), _clock.GetUtcNow().AddMinutes(11));

    private async Task<ConnectionMultiplexer> ConnectAsync()
    {
        var options = ConfigurationOptions.Parse(cluster.Configuration);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 2000;
        options.AsyncTimeout = 2000;
        options.ReconnectRetryPolicy = new LinearRetry(250);
        var connection = await ConnectionMultiplexer.ConnectAsync(options);
        _owned.Add(connection);
        return connection;
    }

    private static async Task Eventually(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition() && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.True(condition(), $"{what}: not so within {Deadline.TotalSeconds} s");
    }

    // The client learns the new slot map on its own (a MOVED reply or its periodic refresh): until then a
    // command can fail on the dead node. Committed data must come back once it has.
    private static async Task<T> EventuallyValue<T>(Func<Task<T?>> read, string what) where T : class
    {
        var deadline = DateTime.UtcNow + Deadline;
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await read() is { } value) return value;
                last = "null";
            }
            catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException or RedisServerException)
            {
                last = e.Message;
            }
            await Task.Delay(100);
        }
        throw new Xunit.Sdk.XunitException($"{what}: not found within {Deadline.TotalSeconds} s (last: {last})");
    }

    private static async Task<long> PublishWhenBackAsync(IRevocationChannel channel, RevocationRecord revocation)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (true)
        {
            try
            {
                return await channel.PublishAsync(revocation, default);
            }
            catch (Exception e) when ((e is RedisConnectionException or RedisTimeoutException or RedisServerException) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }
}

/// <summary>A fact that kills cluster nodes: skipped, visibly, when BOUNCER_TEST_REDIS_CLUSTER names a cluster this run did not start.</summary>
public sealed class RedisClusterKillFactAttribute : FactAttribute
{
    public RedisClusterKillFactAttribute()
    {
        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(RedisClusterServer.EnvironmentVariable)))
            Skip = $"kills a master: needs the private cluster, not the one {RedisClusterServer.EnvironmentVariable} names";
    }
}
