using Bouncer.Refresh;
using Bouncer.Stores.Redis;

namespace Bouncer.Stores.Tests;

/// <summary>The shared refresh-store contract on a real 3-master Redis Cluster; each test has its own key prefix.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class RedisClusterRefreshTokenStoreTests(RedisClusterServer cluster) : RefreshStoreContract
{
    private readonly string _prefix = $"bt:{Guid.NewGuid():N}:";

    protected override IRefreshTokenStore CreateStore() =>
        new RedisRefreshTokenStore(cluster.Connection, new RedisStoreOptions { KeyPrefix = _prefix, TimeProvider = Clock });
}
