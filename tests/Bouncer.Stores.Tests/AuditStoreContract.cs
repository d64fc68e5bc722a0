using Bouncer.Diagnostics;
using Bouncer.Stores.Postgres;
using Bouncer.Stores.Redis;
using Bouncer.Stores.Sqlite;
using Bouncer.Tests;

namespace Bouncer.Stores.Tests;

/// <summary>What every <see cref="IAuditStore"/> must do, against a real server.</summary>
public abstract class AuditStoreContract
{
    protected readonly ManualClock Clock = new();

    /// <summary>A fresh, empty store isolated from every other test.</summary>
    protected abstract IAuditStore CreateStore();

    private AuditEvent Event(string? subject, int secondsAgo, string reason = "logout", AuditEventKind kind = AuditEventKind.SessionEnded) =>
        new(kind, Clock.GetUtcNow().AddSeconds(-secondsAgo), subject, subject, "handle-" + reason, reason, null, null);

    [Fact]
    public async Task Append_ThenList_NewestFirst_TiesByInsertion_AndEveryFieldRoundTrips()
    {
        var store = CreateStore();
        var full = new AuditEvent(AuditEventKind.LoginFailed, Clock.GetUtcNow().AddSeconds(-30), "cli", "alice@example.com", "kid-1",
            "invalid_credentials", "2001:db8::1", "Mozilla/5.0 \"quoted\" ünïcode");
        var bare = new AuditEvent(AuditEventKind.KeyRotated, Clock.GetUtcNow().AddSeconds(-20), null, null, null, "", null, null);
        var sameInstantFirst = Event("bob", 10, "first");
        var sameInstantSecond = Event("bob", 10, "second");
        var newest = Event("alice@example.com", 0, "newest");
        foreach (var e in new[] { full, sameInstantFirst, bare, sameInstantSecond, newest }) await store.AppendAsync(e, default);

        Assert.Equal([newest, sameInstantSecond, sameInstantFirst, bare, full], await store.ListAsync(null, 10, default));
    }

    [Fact]
    public async Task List_BySubject_AndLimit()
    {
        var store = CreateStore();
        for (var i = 0; i < 6; i++) await store.AppendAsync(Event(i % 2 == 0 ? "alice" : "bob", 100 - i, "r" + i), default);
        await store.AppendAsync(Event(null, 50, "unknown name"), default);

        Assert.Equal(["r4", "r2", "r0"], (await store.ListAsync("alice", 10, default)).Select(e => e.Reason));
        Assert.Equal(["r5", "r3"], (await store.ListAsync("bob", 2, default)).Select(e => e.Reason));
        Assert.Equal(["unknown name", "r5", "r4"], (await store.ListAsync(null, 3, default)).Select(e => e.Reason));
        Assert.Empty(await store.ListAsync("carol", 10, default));
        Assert.Empty(await store.ListAsync(null, 0, default));
    }

    [Fact]
    public async Task Sweep_DeletesOnlyOlderEvents_InBatches()
    {
        var store = CreateStore();
        for (var i = 0; i < 5; i++) await store.AppendAsync(Event(i % 2 == 0 ? "alice" : null, 3600 + i, "old" + i), default);
        await store.AppendAsync(Event("alice", 60, "recent"), default);
        await store.AppendAsync(Event(null, 0, "now"), default);
        var before = Clock.GetUtcNow().AddMinutes(-30);

        Assert.Equal(2, await store.SweepAsync(before, 2, default));
        Assert.Equal(2, await store.SweepAsync(before, 2, default));
        Assert.Equal(1, await store.SweepAsync(before, 2, default));
        Assert.Equal(0, await store.SweepAsync(before, 2, default));

        Assert.Equal(["now", "recent"], (await store.ListAsync(null, 10, default)).Select(e => e.Reason));
        Assert.Equal(["recent"], (await store.ListAsync("alice", 10, default)).Select(e => e.Reason));
    }

    [Fact]
    public async Task Sweep_IsStrictlyBefore()
    {
        var store = CreateStore();
        var e = Event("alice", 60);
        await store.AppendAsync(e, default);

        Assert.Equal(0, await store.SweepAsync(e.At, 10, default));
        Assert.Equal(1, await store.SweepAsync(e.At.AddMilliseconds(1), 10, default));
        Assert.Empty(await store.ListAsync("alice", 10, default));
    }
}

public sealed class MemoryAuditStoreTests : AuditStoreContract
{
    protected override IAuditStore CreateStore() => new MemoryAuditStore();
}

public sealed class SqliteAuditStoreTests : AuditStoreContract, IDisposable
{
    private readonly SqliteTempFolder _temp = new();

    protected override IAuditStore CreateStore() => _temp.Own(new SqliteAuditStore(_temp.NewPath()));

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Reopen_KeepsTheTrail_AndOpenSharesTheFile()
    {
        var path = _temp.NewPath();
        var e = new AuditEvent(AuditEventKind.UserCutOff, Clock.GetUtcNow(), "admin", "alice", null, "admin_revoke", "10.0.0.1", null);
        await using (var set = SqliteBouncerStores.Open(path)) await set.Audit.AppendAsync(e, default);

        Assert.Equal([e], await _temp.Own(new SqliteAuditStore(path)).ListAsync("alice", 10, default));
    }
}

/// <summary>The audit contract against a real redis-server; each test has its own key prefix.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisAuditStoreTests(RedisServer server) : AuditStoreContract
{
    private readonly string _prefix = $"bt:{Guid.NewGuid():N}:";

    protected override IAuditStore CreateStore() => CreateRedisStore();

    private RedisAuditStore CreateRedisStore() => new(server.Connection, new RedisStoreOptions { KeyPrefix = _prefix, TimeProvider = Clock });

    [Fact]
    public async Task Keys_HoldDigestsNotUsernames_GlobalKeysShareOneSlot_AndHaveNoTtl()
    {
        var store = CreateRedisStore();
        await store.AppendAsync(new AuditEvent(AuditEventKind.LoginSucceeded, Clock.GetUtcNow(), "alice.secret@example.com", "alice.secret@example.com",
            null, "password", null, null), default);

        var subjectKey = (string)store.SubjectKey("alice.secret@example.com")!;
        Assert.Matches(@"^bt:[0-9a-f]{32}:audit:s:\{[A-Za-z0-9_-]{43}\}$", subjectKey);
        Assert.Equal(StackExchange.Redis.RedisType.SortedSet, await server.Connection.GetDatabase().KeyTypeAsync(subjectKey));
        Assert.Null(await server.Connection.GetDatabase().KeyTimeToLiveAsync(subjectKey));
        Assert.Null(await server.Connection.GetDatabase().KeyTimeToLiveAsync(store.GlobalKey));
        Assert.Equal(RedisClusterSlot.Of((string)store.GlobalKey!), RedisClusterSlot.Of((string)store.SequenceKey!));
    }
}

/// <summary>The audit contract on a real 3-master Redis Cluster; each test has its own key prefix.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class RedisClusterAuditStoreTests(RedisClusterServer cluster) : AuditStoreContract
{
    private readonly string _prefix = $"bt:{Guid.NewGuid():N}:";

    protected override IAuditStore CreateStore() => new RedisAuditStore(cluster.Connection, new RedisStoreOptions { KeyPrefix = _prefix, TimeProvider = Clock });
}

/// <summary>The audit contract against a real PostgreSQL; each test has its own schema.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresAuditStoreTests(PostgresServer server) : AuditStoreContract, IDisposable
{
    private readonly List<string> _schemas = [];

    protected override IAuditStore CreateStore()
    {
        var options = new PostgresStoreOptions { Schema = "bouncer_test_" + Guid.NewGuid().ToString("N") };
        _schemas.Add(options.Schema);
        var store = new PostgresAuditStore(server.DataSource, options);
        store.EnsureSchemaAsync().GetAwaiter().GetResult();
        store.EnsureSchemaAsync().GetAwaiter().GetResult();   // idempotent
        return store;
    }

    public void Dispose()
    {
        foreach (var schema in _schemas)
        {
            using var cmd = server.DataSource.CreateCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
            cmd.ExecuteNonQuery();
        }
    }
}
