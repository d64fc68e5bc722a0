using Bouncer.Revocation;
using Bouncer.Sessions;
using Bouncer.Stores.Redis;
using Bouncer.Tests;
using StackExchange.Redis;

namespace Bouncer.Stores.Tests;

/// <summary>
/// A master of the cluster dies (SIGKILL) and its replica is promoted: sessions committed before keep working,
/// and revocations keep reaching a running listener, the ones published while its subscription moved included
/// (the replay from the log, which the replica has, covers the gap). The killed node is started again at the end
/// and rejoins as a replica, so the collection's cluster is whole for the next test.
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
        var listener = new RevocationListener(new RedisRevocationChannel(await ConnectAsync(), options),
            new RevocationOptions { ReplayInterval = TimeSpan.FromHours(1) }, _clock);
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
        cluster.Kill(victim);
        await Eventually(() => !listener.IsConnected, "the listener saw its node go");

        var promoted = cluster.WaitForPromotion(slot, victim, Deadline);
        Assert.NotEqual(victim, promoted);
        // Published as soon as the slot has a master again, while the listener's subscription is still moving.
        var gap = await PublishWhenBackAsync(publisher, Sid("gap"));

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

        cluster.Restart(victim);
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
