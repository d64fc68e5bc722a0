using Bouncer.Stores.Redis;
using Bouncer.Users;

namespace Bouncer.Stores.Tests;

/// <summary>The shared user and secret store contract on a real 3-master Redis Cluster; each test has its own key prefix.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class RedisClusterUserStoreTests(RedisClusterServer cluster) : UserStoreContract
{
    private readonly string _prefix = $"bt:{Guid.NewGuid():N}:";

    protected override (IUserStore Users, ISecretStore Secrets) CreateStores()
    {
        var options = new RedisStoreOptions { KeyPrefix = _prefix, TimeProvider = Clock };
        return (new RedisUserStore(cluster.Connection, options), new RedisSecretStore(cluster.Connection, options));
    }
}
