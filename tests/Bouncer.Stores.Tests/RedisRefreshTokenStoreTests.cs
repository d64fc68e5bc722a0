using System.Text;
using Bouncer.Refresh;
using Bouncer.Stores.Redis;
using StackExchange.Redis;

namespace Bouncer.Stores.Tests;

/// <summary>
/// The refresh-store contract against a real redis-server, plus what only Redis has: TTLs, pointers,
/// Cluster slots. Each test has its own key prefix.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisRefreshTokenStoreTests(RedisServer server) : RefreshStoreContract
{
    private static readonly TimeSpan Slack = TimeSpan.FromMinutes(5);

    private readonly string _prefix = $"bt:{Guid.NewGuid():N}:";

    protected override IRefreshTokenStore CreateStore() => CreateRedisStore();

    private RedisRefreshTokenStore CreateRedisStore() =>
        new(server.Connection, new RedisStoreOptions { KeyPrefix = _prefix, TimeProvider = Clock, TtlSlack = Slack });

    private IDatabase Db => server.Connection.GetDatabase();

    private IServer Server => server.Connection.GetServer(server.Connection.GetEndPoints()[0]);

    private RefreshRecord NewRecord(string family, string user = "alice", TimeSpan? idle = null)
    {
        var now = DateTimeOffset.FromUnixTimeMilliseconds(Clock.GetUtcNow().ToUnixTimeMilliseconds());
        return new RefreshRecord
        {
            TokenHash = Guid.NewGuid().ToString("N"), FamilyId = family, UserId = user, Generation = 0, IssuedAt = now,
            ExpiresAt = now + (idle ?? TimeSpan.FromHours(1)), FamilyExpiresAt = now.AddDays(1), Scope = "read",
        };
    }

    [Fact]
    public async Task Create_RecordAndPointer_HaveTtlOfIdleLifePlusSlack()
    {
        var store = CreateRedisStore();
        var record = NewRecord("fam-1");

        await store.CreateAsync(record, default);

        var expected = TimeSpan.FromHours(1) + Slack;
        foreach (var key in new[] { store.RecordKey("fam-1", record.TokenHash), store.PointerKey(record.TokenHash) })
        {
            var ttl = await Db.KeyTimeToLiveAsync(key);
            Assert.NotNull(ttl);
            Assert.InRange(ttl.Value, expected - TimeSpan.FromSeconds(10), expected);
        }
        Assert.Equal(record, await store.GetAsync(record.TokenHash, default));
    }

    [Fact]
    public async Task Create_DuplicateHash_Throws()
    {
        var store = CreateRedisStore();
        var record = NewRecord("fam-1");
        await store.CreateAsync(record, default);

        await Assert.ThrowsAsync<InvalidOperationException>(() => store.CreateAsync(record, default).AsTask());
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.CreateAsync(record with { FamilyId = "fam-2" }, default).AsTask());
        Assert.Equal(record, await store.GetAsync(record.TokenHash, default));
    }

    [Fact]
    public async Task Get_PointerWhoseRecordIsGone_ReturnsNull()
    {
        var store = CreateRedisStore();
        var record = NewRecord("fam-1");
        await store.CreateAsync(record, default);
        // What a TTL or sweep leaves behind: the pointer, without its record.
        Assert.True(await Db.KeyDeleteAsync(store.RecordKey("fam-1", record.TokenHash)));

        Assert.Null(await store.GetAsync(record.TokenHash, default));
        Assert.False(await store.RotateAsync(record.TokenHash, Clock.GetUtcNow(), NewRecord("fam-1"), default));
    }

    [Fact]
    public async Task RevokeFamily_AfterRotations_RevokesEveryGeneration_AndBlocksFurtherRotation()
    {
        var store = CreateRedisStore();
        var first = NewRecord("fam-1");
        await store.CreateAsync(first, default);
        var second = NewRecord("fam-1") with { Generation = 1 };
        Assert.True(await store.RotateAsync(first.TokenHash, Clock.GetUtcNow(), second, default));
        var other = NewRecord("fam-2");
        await store.CreateAsync(other, default);

        Assert.Equal(2, await store.RevokeFamilyAsync("fam-1", default));
        Assert.Equal(0, await store.RevokeFamilyAsync("fam-1", default));

        Assert.True((await store.GetAsync(first.TokenHash, default))!.Revoked);
        Assert.True((await store.GetAsync(second.TokenHash, default))!.Revoked);
        Assert.False((await store.GetAsync(other.TokenHash, default))!.Revoked);
        var third = NewRecord("fam-1") with { Generation = 2 };
        Assert.False(await store.RotateAsync(second.TokenHash, Clock.GetUtcNow(), third, default));
        Assert.Null(await store.GetAsync(third.TokenHash, default));
    }

    [Fact]
    public async Task RevokeFamily_RacingManyRotations_LeavesNoLiveToken()
    {
        var store = CreateRedisStore();
        var current = NewRecord("fam-1");
        await store.CreateAsync(current, default);

        // A chain of rotations runs while the family is revoked: whatever interleaving, nothing stays live.
        var rotations = Task.Run(async () =>
        {
            for (var i = 1; i <= 200; i++)
            {
                var next = NewRecord("fam-1") with { Generation = i };
                if (!await store.RotateAsync(current.TokenHash, Clock.GetUtcNow(), next, default)) return;
                current = next;
            }
        });
        await Task.Delay(5);
        await store.RevokeFamilyAsync("fam-1", default);
        await rotations;

        var hashes = await Db.SortedSetRangeByRankAsync(store.FamilyIndexKey("fam-1"));
        Assert.NotEmpty(hashes);
        foreach (var h in hashes) Assert.True((await store.GetAsync((string)h!, default))!.Revoked, $"token {h} escaped the revocation");
    }

    [Fact]
    public async Task Rotate_SuccessorOfAnotherFamily_Throws()
    {
        var store = CreateRedisStore();
        var record = NewRecord("fam-1");
        await store.CreateAsync(record, default);

        await Assert.ThrowsAsync<ArgumentException>(() => store.RotateAsync(record.TokenHash, Clock.GetUtcNow(), NewRecord("fam-2"), default).AsTask());
        Assert.Null((await store.GetAsync(record.TokenHash, default))!.RotatedAt);
    }

    [Theory]
    [InlineData("app{1}:")]
    [InlineData("app}")]
    public void Constructor_PrefixWithBrace_IsRefused(string prefix)
    {
        Assert.Throws<ArgumentException>(() => new RedisRefreshTokenStore(server.Connection, new RedisStoreOptions { KeyPrefix = prefix }));
    }

    [Fact]
    public async Task EveryCommandSent_TouchesKeysOfOneClusterSlot()
    {
        var store = CreateRedisStore();
        var service = CreateService(store);
        await using var monitor = await RedisMonitor.StartAsync(server.Connection, server.Configuration);

        // Every store operation, including the failure paths; family ids with braces must not break the tag.
        var a = await service.IssueAsync("alice", "read", default);
        await store.CreateAsync(NewRecord("}{odd family}"), default);
        var next = await service.RefreshAsync(a.RefreshToken, default);
        await service.RefreshAsync(a.RefreshToken, default);                     // replay in grace
        var found = (await service.FindAsync(next.RefreshToken, default))!;
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.CreateAsync(found, default).AsTask());
        await service.IssueAsync("bob", null, default);
        await service.RevokeUserAsync("alice", "logout_all", default);
        Clock.Advance(TimeSpan.FromDays(40));
        await store.SweepAsync(Clock.GetUtcNow(), 100, default);

        var commands = await monitor.StopAsync(server.Connection);

        var ours = commands.Where(c => c.Any(arg => ((byte[])arg!).AsSpan().IndexOf(Encoding.ASCII.GetBytes(_prefix)) >= 0)).ToList();
        Assert.Contains(ours, c => ((string)c[0]!).StartsWith("EVAL", StringComparison.OrdinalIgnoreCase));
        var multiKey = 0;
        foreach (var command in ours)
        {
            var keys = await KeysOfAsync(command);
            var slots = keys.Select(k => RedisClusterSlot.Of((byte[])k!)).Distinct().ToList();
            Assert.True(slots.Count <= 1, $"{command[0]} touches keys in slots {string.Join(", ", slots)}: {string.Join(" ", keys)}");
            if (keys.Length > 1) multiKey++;
        }
        Assert.True(multiKey > 3, $"only {multiKey} multi-key commands seen");
    }

    private async Task<RedisKey[]> KeysOfAsync(RedisValue[] command)
    {
        try
        {
            return await Server.CommandGetKeysAsync(command);
        }
        catch (RedisServerException e) when (e.Message.Contains("no key arguments", StringComparison.OrdinalIgnoreCase)
                                             || e.Message.Contains("Invalid arguments", StringComparison.OrdinalIgnoreCase))
        {
            return [];   // SCAN: a MATCH pattern is not a key
        }
    }
}
