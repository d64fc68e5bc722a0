using Bouncer.Revocation;
using Bouncer.Stores.Redis;
using StackExchange.Redis;

namespace Bouncer.Stores.Tests;

/// <summary>
/// Subscribing on a multiplexer that has not connected yet (abortConnect=false, Redis not up): the channel waits for
/// the first connection to learn the topology instead of guessing a single server (review finding 7), then hears
/// publishes. Its own private redis-server, killed and restarted, so the shared one is left alone.
/// </summary>
public sealed class RedisRevocationChannelTopologyTests
{
    [Fact]
    public async Task Subscribe_BeforeTheMultiplexerConnects_WaitsForTheServerThenHearsPublishes()
    {
        using var server = new RedisServer();
        Assert.True(server.IsPrivate, "needs a private redis-server it may kill (unset " + RedisServer.EnvironmentVariable + ")");
        var options = new RedisStoreOptions { KeyPrefix = $"topo{Guid.NewGuid():N}:" };
        server.Kill();
        await using var late = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{server.Port},abortConnect=false,connectTimeout=1000");
        Assert.False(late.IsConnected);
        var channel = new RedisRevocationChannel(late, options);
        var subscriber = new Subscriber();

        var subscribing = channel.SubscribeAsync(subscriber, default).AsTask();
        server.Restart();
        await using var subscription = await subscribing.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.False(channel.IsCluster);
        var publisher = new RedisRevocationChannel(server.Connection, options);
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < 300 && subscriber.Count == 0; i++)
        {
            await PublishWhenUpAsync(publisher, new RevocationRecord(RevocationKind.Session, "s-" + i, now, now.AddMinutes(5)));
            await Task.Delay(100);
        }
        Assert.True(subscriber.Count > 0, "no push heard after the late connection");
    }

    [Fact]
    public async Task Subscribe_ServerNeverComes_FailsWhenCancelledInsteadOfSubscribingBlind()
    {
        using var server = new RedisServer();
        Assert.True(server.IsPrivate, "needs a private redis-server it may kill (unset " + RedisServer.EnvironmentVariable + ")");
        server.Kill();
        await using var late = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{server.Port},abortConnect=false,connectTimeout=500");
        var channel = new RedisRevocationChannel(late, new RedisStoreOptions { KeyPrefix = $"topo{Guid.NewGuid():N}:" });
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(2));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await channel.SubscribeAsync(new Subscriber(), cancel.Token));
    }

    // The fixture's own multiplexer reconnects after the restart by itself: retry until it has.
    private static async Task PublishWhenUpAsync(RedisRevocationChannel publisher, RevocationRecord record)
    {
        try { await publisher.PublishAsync(record, default); }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException) { }
    }

    private sealed class Subscriber : IRevocationSubscriber
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public void OnPushed(RevocationEntry entry) => Interlocked.Increment(ref _count);

        public void OnConnected() { }

        public void OnDisconnected() { }
    }
}
