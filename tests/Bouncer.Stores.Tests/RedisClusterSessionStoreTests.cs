using Bouncer.Sessions;
using Bouncer.Stores.Redis;
using StackExchange.Redis;

namespace Bouncer.Stores.Tests;

/// <summary>
/// The shared session contract on a real 3-master Redis Cluster (a cross-slot command would fail here with
/// CROSSSLOT, where a single server accepts it), plus that one deployment's keys spread over every master.
/// </summary>
[Collection(RedisClusterCollection.Name)]
public sealed class RedisClusterSessionStoreTests(RedisClusterServer cluster) : SessionStoreContract
{
    private readonly string _prefix = $"bt:{Guid.NewGuid():N}:";

    protected override ISessionStore CreateStore(TimeProvider clock) =>
        new RedisSessionStore(cluster.Connection, new RedisStoreOptions { KeyPrefix = _prefix, TimeProvider = clock });

    [Fact]
    public async Task ManyUsers_KeysSpreadOverEveryMaster_AndEachUserStaysReadable()
    {
        var sessions = CreateManager();
        var ids = new List<(string User, string Id)>();
        for (var i = 0; i < 60; i++)
        {
            var user = "user" + i;
            ids.Add((user, (await sessions.CreateAsync(user, default)).Id));
        }

        var perMaster = new List<int>();
        foreach (var master in cluster.Connection.GetServers().Where(s => !s.IsReplica && s.IsConnected))
        {
            var n = 0;
            // The expiry index (sixteen shared sorted sets, {prefix}x:{n}) is not per session.
            await foreach (var key in master.KeysAsync(pattern: _prefix + "*", pageSize: 500))
                if (!((string)key!).StartsWith(_prefix + "x:", StringComparison.Ordinal)) n++;
            perMaster.Add(n);
        }

        Assert.Equal(RedisClusterServer.Masters, perMaster.Count);
        Assert.All(perMaster, n => Assert.True(n > 0, $"a master holds none of the keys: {string.Join(", ", perMaster)}"));
        Assert.Equal(120, perMaster.Sum());   // a record and a user index per session
        foreach (var (user, id) in ids)
        {
            Assert.Equal(user, (await sessions.GetAsync(id, default))?.UserId);
            Assert.Single(await sessions.ListUserAsync(user, default));
        }
    }
}
