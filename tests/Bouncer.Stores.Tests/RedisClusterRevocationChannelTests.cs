using Bouncer.Revocation;
using Bouncer.Stores.Redis;
using StackExchange.Redis;

namespace Bouncer.Stores.Tests;

/// <summary>
/// The revocation-channel contract on a real 3-master Redis Cluster, each "instance" with its own multiplexer, plus
/// where the push travels: sharded pub/sub on the log's own slot, never the cluster-wide <c>PUBLISH</c>.
/// </summary>
[Collection(RedisClusterCollection.Name)]
public sealed class RedisClusterRevocationChannelTests(RedisClusterServer cluster) : RevocationChannelContract, IAsyncLifetime
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
        var connection = await ConnectionMultiplexer.ConnectAsync(cluster.Configuration);
        lock (_connections) _connections.Add(connection);
        return connection;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var l in _listeners) await l.DisposeAsync();
        foreach (var c in _connections) await c.DisposeAsync();
    }

    [Fact]
    public async Task Push_TravelsOnTheShardChannelOfTheLogsSlot_NotOnPlainPubSub()
    {
        var publisher = CreateChannel(await ConnectAsync());
        for (var i = 0; i < 2; i++)
        {
            var listener = new RevocationListener(CreateChannel(await ConnectAsync()), new RevocationOptions { ReplayInterval = TimeSpan.FromHours(1) }, Clock);
            await listener.StartAsync(default);
            _listeners.Add(listener);
        }

        Assert.True(publisher.IsCluster);
        Assert.True(publisher.Channel.IsSharded);
        var slot = RedisClusterSlot.Of((string)publisher.LogKey!);
        Assert.Equal(slot, RedisClusterSlot.Of(publisher.Channel.ToString()));
        // Both listeners hold SSUBSCRIBE on the master of that slot; nobody holds a plain SUBSCRIBE anywhere.
        var master = cluster.Connection.GetServer("127.0.0.1", cluster.MasterPortOf(slot));
        Assert.Equal(2, await CountAsync(master, "SHARDNUMSUB", publisher.Channel.ToString()));
        foreach (var server in cluster.Connection.GetServers())
            Assert.Equal(0, await CountAsync(server, "NUMSUB", _prefix + "revocations"));

        await publisher.PublishAsync(Sid("pushed"), default);

        // Replay is an hour away: only the push can have delivered it.
        foreach (var l in _listeners) await WaitUntil(() => l.Set.IsSessionRevoked("pushed"), "sharded push received");
    }

    private static async Task<long> CountAsync(IServer server, string subcommand, string channel)
    {
        var reply = (RedisResult[])(await server.ExecuteAsync("PUBSUB", subcommand, channel))!;
        return (long)reply[1];
    }
}
