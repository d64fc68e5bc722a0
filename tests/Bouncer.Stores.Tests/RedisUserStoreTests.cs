using Bouncer.Stores.Redis;
using Bouncer.Users;
using StackExchange.Redis;

namespace Bouncer.Stores.Tests;

/// <summary>The user and secret store contract against a real redis-server; each test has its own key prefix.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisUserStoreTests(RedisServer server) : UserStoreContract
{
    private readonly string _prefix = $"bt:{Guid.NewGuid():N}:";

    protected override (IUserStore Users, ISecretStore Secrets) CreateStores() => (CreateUserStore(), CreateSecretStore());

    private RedisUserStore CreateUserStore() => new(server.Connection, new RedisStoreOptions { KeyPrefix = _prefix, TimeProvider = Clock });

    private RedisSecretStore CreateSecretStore() => new(server.Connection, new RedisStoreOptions { KeyPrefix = _prefix, TimeProvider = Clock });

    private IDatabase Db => server.Connection.GetDatabase();

    private static UserRecord NewUser(string name) => new()
    {
        Username = name, PasswordHash = "pbkdf2-sha512$x", Roles = "admin", CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000),
    };

    [Fact]
    public async Task Create_KeyNameHoldsDigestNotUsername_AndRecordRoundTrips()
    {
        var users = CreateUserStore();
        var user = NewUser("alice.secret@example.com") with { FailedLogins = 2, LockedUntil = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_060_000) };

        Assert.True(await users.CreateAsync(user, default));

        var key = (string)users.UserKey(user.Username)!;
        Assert.Matches(@"^bt:[0-9a-f]{32}:user:\{[A-Za-z0-9_-]{43}\}$", key);
        Assert.Null(await Db.KeyTimeToLiveAsync(key));
        Assert.Equal(user, await users.GetAsync(user.Username, default));
    }

    [Fact]
    public async Task Update_KeepsPasswordAndCreation_ClearsLock_AndIsFalseWhenGone()
    {
        var users = CreateUserStore();
        var user = NewUser("bob") with { LockedUntil = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_060_000) };
        await users.CreateAsync(user, default);

        Assert.True(await users.UpdateAsync(user with { PasswordHash = "other", CreatedAt = default, Roles = "", FailedLogins = 0, LockedUntil = null }, default));

        Assert.Equal(user with { Roles = "", LockedUntil = null }, await users.GetAsync("bob", default));
        Assert.False(await users.UpdateAsync(NewUser("nobody"), default));
        Assert.Null(await users.GetAsync("nobody", default));
    }

    [Fact]
    public async Task List_AccountsWrittenBeforeTheIndex_AreBackfilledOnFirstList()
    {
        // What an older version left behind: account hashes and no name index.
        var old = NewUser("legacy") with { Roles = "" };
        var writer = CreateUserStore();
        await Db.HashSetAsync(writer.UserKey("legacy"), [new("n", "legacy"), new("p", old.PasswordHash), new("r", ""), new("f", 0), new("c", 1_700_000_000_000)]);
        Assert.True(await writer.CreateAsync(NewUser("fresh"), default));

        var users = CreateUserStore();
        Assert.Equal(["fresh", "legacy"], (await users.ListAsync(null, null, 10, default)).Select(u => u.Username));
        Assert.Equal(old, await users.GetAsync("legacy", default));
        Assert.Equal(2, await Db.SortedSetLengthAsync(users.IndexKey));
    }

    [Fact]
    public async Task List_SkipsANameWhoseAccountIsGone()
    {
        // A delete that died between removing the account and its name.
        var users = CreateUserStore();
        foreach (var n in new[] { "a", "b", "c" }) Assert.True(await users.CreateAsync(NewUser(n), default));
        await Db.KeyDeleteAsync(users.UserKey("b"));

        Assert.Equal(["a", "c"], (await users.ListAsync(null, null, 2, default)).Select(u => u.Username));
    }

    [Fact]
    public async Task Secrets_NameWithBraces_IsItsOwnKey()
    {
        var secrets = CreateSecretStore();

        Assert.Equal("one", await secrets.GetOrAddAsync("{a}", "one", default));
        Assert.Equal("two", await secrets.GetOrAddAsync("a", "two", default));

        Assert.Equal("one", await secrets.GetAsync("{a}", default));
        Assert.Equal("two", await secrets.GetAsync("a", default));
    }
}
