using Bouncer.Revocation;
using Bouncer.Stores.Redis;
using StackExchange.Redis;

namespace Bouncer.Stores.Tests;

/// <summary>
/// The revocation-channel contract against a real redis-server, each "instance" with its own
/// <see cref="ConnectionMultiplexer"/> (as separate app processes would have), plus the faults: a killed
/// subscriber connection and a restarted server.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisRevocationChannelTests(RedisServer server) : RevocationChannelContract, IAsyncLifetime
{
    private readonly string _prefix = $"bt:{Guid.NewGuid():N}:";
    private readonly List<ConnectionMultiplexer> _connections = [];
    private readonly List<RevocationListener> _listeners = [];

    protected override async Task<IRevocationChannel[]> CreateChannelsAsync(int count)
    {
        var channels = new IRevocationChannel[count];
        for (var i = 0; i < count; i++) channels[i] = CreateChannel(await ConnectAsync());
        return channels;
    }

    private RedisRevocationChannel CreateChannel(IConnectionMultiplexer redis) =>
        new(redis, new RedisStoreOptions { KeyPrefix = _prefix, TimeProvider = Clock });

    private async Task<ConnectionMultiplexer> ConnectAsync()
    {
        var options = ConfigurationOptions.Parse(server.Configuration);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 2000;
        options.SyncTimeout = 5000;
        options.AsyncTimeout = 5000;
        options.ReconnectRetryPolicy = new LinearRetry(250);
        var connection = await ConnectionMultiplexer.ConnectAsync(options);
        lock (_connections) _connections.Add(connection);
        return connection;
    }

    private async Task<RevocationListener> StartListenerAsync(IRevocationChannel channel)
    {
        // No periodic replay during the test: only push and the reconnect replay can deliver.
        var listener = new RevocationListener(channel, new RevocationOptions { ReplayInterval = TimeSpan.FromHours(1) }, Clock);
        await listener.StartAsync(default);
        _listeners.Add(listener);
        return listener;
    }

    private IServer Admin => server.Connection.GetServer(server.Connection.GetEndPoints()[0]);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var l in _listeners) await l.DisposeAsync();
        foreach (var c in _connections) await c.DisposeAsync();
    }

    [Fact]
    public async Task Publish_StoresEntryInLogBeforePush_AndCursorKeyHasNoTtl()
    {
        var redis = await ConnectAsync();
        var channel = CreateChannel(redis);

        var cursor = await channel.PublishAsync(Sid("s|with|bars"), default);

        var entry = Assert.Single(await channel.ReadAfterAsync(0, 10, default));
        Assert.Equal(cursor, entry.Cursor);
        Assert.Equal(Sid("s|with|bars"), entry.Revocation);
        var db = server.Connection.GetDatabase();
        Assert.Null(await db.KeyTimeToLiveAsync(channel.CursorKey));
        Assert.Equal(RedisClusterSlot.Of((string)channel.CursorKey!), RedisClusterSlot.Of((string)channel.LogKey!));
        Assert.Equal(RedisClusterSlot.Of((string)channel.CursorKey!), RedisClusterSlot.Of((string)channel.ExpiryKey!));
    }

    [Fact]
    public async Task Subscribe_CallsOnConnectedOnce_AndDisposeStopsPushes()
    {
        var channel = CreateChannel(await ConnectAsync());
        var subscriber = new RecordingSubscriber();

        var subscription = await channel.SubscribeAsync(subscriber, default);
        Assert.Equal(1, subscriber.Connected);
        await channel.PublishAsync(Sid("a"), default);
        await WaitUntil(() => subscriber.Pushed.Count == 1, "push received");
        await subscription.DisposeAsync();
        await channel.PublishAsync(Sid("b"), default);
        await Task.Delay(200);

        Assert.Equal(["a"], subscriber.Pushed.Select(e => e.Revocation.Subject));
    }

    [Fact]
    public async Task SubscriberConnectionKilled_RevocationPublishedWhileDown_IsRefusedAfterReconnect()
    {
        var publisher = CreateChannel(await ConnectAsync());
        var listeners = new List<RevocationListener>();
        for (var i = 0; i < 2; i++) listeners.Add(await StartListenerAsync(CreateChannel(await ConnectAsync())));
        await publisher.PublishAsync(Sid("before"), default);
        foreach (var l in listeners) await WaitUntil(() => l.Set.IsSessionRevoked("before"), "push before the kill");

        // Deny SUBSCRIBE, then kill every subscriber connection: the clients reconnect at once but cannot
        // resubscribe, so the publish below certainly reaches nobody and only the log has the entry (without
        // the ACL a loopback reconnect can win the race). Then allow SUBSCRIBE again.
        foreach (var l in listeners) await WaitUntil(() => l.IsConnected, "subscriber connected");
        for (var i = 0; i < 500 && await SubscriberCountAsync(publisher.Channel) < listeners.Count; i++) await Task.Delay(10);
        const string missed = "during";
        await Admin.ExecuteAsync("ACL", "SETUSER", "default", "-subscribe", "-psubscribe", "-ssubscribe");
        try
        {
            await Admin.ClientKillAsync(id: null, clientType: ClientType.PubSub, endpoint: null, skipMe: true);
            await publisher.PublishAsync(Sid(missed), default);
            // Nobody was subscribed: whatever reaches the listeners now comes from the log (replay), not the push.
            Assert.Equal(0, await SubscriberCountAsync(publisher.Channel));
        }
        finally
        {
            await Admin.ExecuteAsync("ACL", "SETUSER", "default", "+subscribe", "+psubscribe", "+ssubscribe");
        }
        foreach (var l in listeners)
        {
            await WaitUntil(() => l.IsConnected && l.Set.IsSessionRevoked(missed), "replay after reconnect");
            Assert.Equal(RevocationVerdict.Revoked, await l.CheckAsync(missed, null, null, 0, default));
        }
        // (That pushes flow again after a reconnect is shown by the restart test below; here StackExchange.Redis
        // does not retry the SUBSCRIBE the ACL refused, which the listener's periodic replay would cover.)
    }

    [RedisRestartFact]
    public async Task ServerRestartedBetweenPublishAndCheck_LogSurvives_AndListenersCatchUp()
    {
        var publisher = CreateChannel(await ConnectAsync());
        var running = await StartListenerAsync(CreateChannel(await ConnectAsync()));
        var first = await publisher.PublishAsync(Sid("before"), default);
        await WaitUntil(() => running.Set.IsSessionRevoked("before"), "push before the restart");
        var second = await publisher.PublishAsync(Sid("gap"), default);

        server.Kill();   // SIGKILL: only what AOF already holds survives
        server.Restart();

        var third = await PublishWhenBackAsync(publisher, Sid("after"));
        // The cursor survived too: a cursor restarting at 1 would hide new entries from running listeners.
        Assert.Equal(new[] { first + 1, first + 2 }, new[] { second, third });
        await WaitUntil(() => running.IsConnected && running.Set.IsSessionRevoked("after") && running.Cursor == third, "running listener caught up");
        var late = await StartListenerAsync(CreateChannel(await ConnectAsync()));
        foreach (var sid in new[] { "before", "gap", "after" })
        {
            Assert.Equal(RevocationVerdict.Revoked, await late.CheckAsync(sid, null, null, 0, default));
            Assert.Equal(RevocationVerdict.Revoked, await running.CheckAsync(sid, null, null, 0, default));
        }
    }

    [RedisRestartFact]
    public async Task ServerDownPastTheBound_RefusePolicyAndFallbackBothFailClosed_ThenRecover()
    {
        var publisher = CreateChannel(await ConnectAsync());
        var refusing = new RevocationListener(CreateChannel(await ConnectAsync()), new RevocationOptions { Policy = StalenessPolicy.Refuse, StaleAfter = TimeSpan.FromSeconds(5), ReplayInterval = TimeSpan.FromHours(1) }, Clock);
        var falling = new RevocationListener(CreateChannel(await ConnectAsync()), new RevocationOptions { Policy = StalenessPolicy.FallBackToStore, StaleAfter = TimeSpan.FromSeconds(5), ReplayInterval = TimeSpan.FromHours(1) }, Clock);
        _listeners.Add(refusing);
        _listeners.Add(falling);
        await refusing.StartAsync(default);
        await falling.StartAsync(default);

        server.Kill();
        await WaitUntil(() => !refusing.IsConnected && !falling.IsConnected, "both listeners saw the connection drop");
        Assert.Equal(RevocationVerdict.Allowed, await refusing.CheckAsync("s-1", null, null, 0, default));   // within the bound
        Clock.Advance(TimeSpan.FromSeconds(6));

        Assert.Equal(RevocationVerdict.Stale, await refusing.CheckAsync("s-1", null, null, 0, default));
        // Fallback asks the store, which is down too: neither side can vouch for the credential.
        Assert.Equal(RevocationVerdict.Stale, await falling.CheckAsync("s-1", null, null, 0, default));

        server.Restart();
        await PublishWhenBackAsync(publisher, Sid("s-1"));
        await WaitUntil(() => refusing.IsConnected && falling.IsConnected, "both listeners reconnected");
        await WaitUntil(() => refusing.Set.IsSessionRevoked("s-1") && falling.Set.IsSessionRevoked("s-1"), "replay after reconnect");
        Assert.Equal(RevocationVerdict.Revoked, await refusing.CheckAsync("s-1", null, null, 0, default));
        Assert.Equal(RevocationVerdict.Revoked, await falling.CheckAsync("s-1", null, null, 0, default));
        Assert.Equal(RevocationVerdict.Allowed, await refusing.CheckAsync("s-2", null, null, 0, default));
    }

    private async Task<long> SubscriberCountAsync(RedisChannel channel)
    {
        var reply = await server.Connection.GetDatabase().ExecuteAsync("PUBSUB", "NUMSUB", channel.ToString());
        return (long)((RedisResult[])reply!)[1];
    }

    // The multiplexer reconnects on its own; wait for it instead of assuming a fixed delay.
    private static async Task<long> PublishWhenBackAsync(IRevocationChannel channel, RevocationRecord revocation)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            try
            {
                return await channel.PublishAsync(revocation, default);
            }
            catch (Exception e) when ((e is RedisConnectionException or RedisTimeoutException) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }

    private sealed class RecordingSubscriber : IRevocationSubscriber
    {
        private int _connected;

        public List<RevocationEntry> Pushed { get; } = [];

        public int Connected => Volatile.Read(ref _connected);

        public void OnPushed(RevocationEntry entry)
        {
            lock (Pushed) Pushed.Add(entry);
        }

        public void OnConnected() => Interlocked.Increment(ref _connected);

        public void OnDisconnected()
        {
        }
    }
}
