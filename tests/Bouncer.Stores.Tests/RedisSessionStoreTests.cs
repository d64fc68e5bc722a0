using System.Text;
using Bouncer.Sessions;
using Bouncer.Stores.Redis;
using StackExchange.Redis;

namespace Bouncer.Stores.Tests;

/// <summary>
/// The shared contract against a real redis-server, plus what only Redis has: TTLs, key names, Cluster
/// slots and surviving a server restart. Each store gets its own key prefix, so tests never see each
/// other's keys and nothing is flushed.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisSessionStoreTests(RedisServer server) : SessionStoreContract
{
    private static readonly TimeSpan Slack = TimeSpan.FromMinutes(5);

    private readonly string _prefix = $"bt:{Guid.NewGuid():N}:";

    protected override ISessionStore CreateStore(TimeProvider clock) => CreateRedisStore(clock);

    private RedisSessionStore CreateRedisStore(TimeProvider clock) =>
        new(server.Connection, new RedisStoreOptions { KeyPrefix = _prefix, TimeProvider = clock, TtlSlack = Slack });

    private IDatabase Db => server.Connection.GetDatabase();

    private IServer Server => server.Connection.GetServer(server.Connection.GetEndPoints()[0]);

    private async Task<List<RedisKey>> KeysAsync()
    {
        var keys = new List<RedisKey>();
        await foreach (var k in Server.KeysAsync(pattern: _prefix + "*", pageSize: 500)) keys.Add(k);
        return keys;
    }

    private SessionRecord NewRecord(string userId, TimeSpan life)
    {
        var now = DateTimeOffset.FromUnixTimeMilliseconds(Clock.GetUtcNow().ToUnixTimeMilliseconds());
        return new SessionRecord
        {
            Key = SessionId.New().Key, UserId = userId, CreatedAt = now, LastSeenAt = now,
            ExpiresAt = now + life, AbsoluteExpiresAt = now.AddHours(8),
        };
    }

    [Theory]
    [InlineData("")]
    [InlineData("sessions-ü:")]   // UTF-8 beyond ASCII
    public async Task Create_RecordKey_IsPrefixAndBase64UrlDigestInAHashTag(string extra)
    {
        // The layout of docs/redis.md: sessions written by an older version must still be found after an upgrade.
        var prefix = _prefix + extra;
        var store = new RedisSessionStore(server.Connection, new RedisStoreOptions { KeyPrefix = prefix, TimeProvider = Clock, TtlSlack = Slack });
        var record = NewRecord("alice", TimeSpan.FromMinutes(30));

        await store.CreateAsync(record, default);

        var expected = $"{prefix}s:{{{System.Buffers.Text.Base64Url.EncodeToString(record.Key.ToArray())}}}";
        Assert.Equal(expected, (string)store.RecordKey(record.Key)!);
        Assert.True(await Db.KeyExistsAsync(expected));
        Assert.Equal(record, await store.GetAsync(record.Key, default));
    }

    [Fact]
    public async Task Create_RecordKey_HasTtlOfLifePlusSlack()
    {
        var store = CreateRedisStore(Clock);
        var record = NewRecord("alice", TimeSpan.FromMinutes(30));

        await store.CreateAsync(record, default);

        var ttl = await Db.KeyTimeToLiveAsync(store.RecordKey(record.Key));
        var expected = TimeSpan.FromMinutes(30) + Slack;
        Assert.NotNull(ttl);
        Assert.InRange(ttl.Value, expected - TimeSpan.FromSeconds(10), expected);
        // The index outlives its records, so a hint is never dropped before its record.
        var indexTtl = await Db.KeyTimeToLiveAsync(store.IndexKey("alice"));
        Assert.NotNull(indexTtl);
        Assert.True(indexTtl >= ttl - TimeSpan.FromSeconds(1), $"index TTL {indexTtl} < record TTL {ttl}");
    }

    [Fact]
    public async Task Update_LaterExpiry_ExtendsRecordTtl()
    {
        var store = CreateRedisStore(Clock);
        var record = NewRecord("alice", TimeSpan.FromMinutes(30));
        await store.CreateAsync(record, default);

        Assert.True(await store.UpdateAsync(record with { ExpiresAt = record.ExpiresAt.AddHours(2) }, default));

        var ttl = await Db.KeyTimeToLiveAsync(store.RecordKey(record.Key));
        var expected = TimeSpan.FromMinutes(150) + Slack;
        Assert.InRange(ttl!.Value, expected - TimeSpan.FromSeconds(10), expected);
    }

    [Fact]
    public async Task Create_AlreadyExpiredRecord_StillGetsAShortPositiveTtl()
    {
        var store = CreateRedisStore(Clock);
        var record = NewRecord("alice", -(Slack + TimeSpan.FromMinutes(1)));

        await store.CreateAsync(record, default);

        var ttl = await Db.KeyTimeToLiveAsync(store.RecordKey(record.Key));
        Assert.InRange(ttl!.Value, TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task RecordGoneByTtl_IndexHintIsIgnored_ThenTrimmedBySweep()
    {
        var store = CreateRedisStore(Clock);
        var record = NewRecord("alice", TimeSpan.FromMinutes(30));
        await store.CreateAsync(record, default);
        // What Redis does when the TTL fires: the record goes, its hint in the user index stays.
        Assert.True(await Db.KeyDeleteAsync(store.RecordKey(record.Key)));

        Assert.Empty(await store.ListUserAsync("alice", default));
        Assert.Null(await store.GetAsync(record.Key, default));
        Assert.Equal(0, await store.DeleteUserAsync("alice", default));
        Assert.False(await store.UpdateAsync(record, default));
        Assert.False(await Db.KeyExistsAsync(store.RecordKey(record.Key)));

        Assert.Equal(1, await Db.SortedSetLengthAsync(store.IndexKey("alice")));     // the dangling hint

        Clock.Advance(TimeSpan.FromHours(1));
        Assert.Equal(0, await store.SweepAsync(Clock.GetUtcNow(), 100, default));   // no record to delete...
        Assert.Equal(0, await Db.SortedSetLengthAsync(store.IndexKey("alice")));     // ...but the hint is trimmed
    }

    [Fact]
    public async Task Sweep_FindsExpiredRecordsByTheExpiryIndex_WithoutTheUserIndex()
    {
        var store = CreateRedisStore(Clock);
        var expired = NewRecord("alice", TimeSpan.FromMinutes(1));
        var live = NewRecord("alice", TimeSpan.FromHours(1));
        await store.CreateAsync(expired, default);
        await store.CreateAsync(live, default);
        // The user index gone (its TTL, or a crash): the expiry index alone must lead sweep to the record.
        Assert.True(await Db.KeyDeleteAsync(store.IndexKey("alice")));
        Clock.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal(1, await store.SweepAsync(Clock.GetUtcNow(), 100, default));

        Assert.False(await Db.KeyExistsAsync(store.RecordKey(expired.Key)));
        Assert.NotNull(await store.GetAsync(live.Key, default));
        // Only the live record's hint is left (the two may share one of the sixteen sets).
        var sameSet = store.ExpiryKey(live.Key) == store.ExpiryKey(expired.Key);
        Assert.Equal(sameSet ? 1 : 0, await Db.SortedSetLengthAsync(store.ExpiryKey(expired.Key)));
        Assert.Equal(1, await Db.SortedSetLengthAsync(store.ExpiryKey(live.Key)));
    }

    [Fact]
    public async Task Sweep_ExpiredAndDeletedRecords_LeaveNoHintInEitherIndex()
    {
        var store = CreateRedisStore(Clock);
        var records = Enumerable.Range(0, 40).Select(i => NewRecord("u" + (i % 4), TimeSpan.FromMinutes(1))).ToList();
        foreach (var r in records) await store.CreateAsync(r, default);
        // Deleted before expiry: its expiry hint stays until sweep passes its score.
        Assert.True(await store.DeleteAsync(records[0].Key, default));
        Clock.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal(39, await store.SweepAsync(Clock.GetUtcNow(), 1000, default));

        foreach (var r in records) Assert.Equal(0, await Db.SortedSetLengthAsync(store.ExpiryKey(r.Key)));
        for (var u = 0; u < 4; u++) Assert.Equal(0, await Db.SortedSetLengthAsync(store.IndexKey("u" + u)));
    }

    [Fact]
    public async Task Update_RecordOfAnotherUser_ReturnsFalse_AndChangesNothing()
    {
        var store = CreateRedisStore(Clock);
        var record = NewRecord("alice", TimeSpan.FromMinutes(30)) with { Data = """{"a":1}""" };
        await store.CreateAsync(record, default);

        Assert.False(await store.UpdateAsync(record with { UserId = "mallory", Data = """{"a":2}""" }, default));

        Assert.Equal(record, await store.GetAsync(record.Key, default));
        Assert.Empty(await store.ListUserAsync("mallory", default));
    }

    [Fact]
    public async Task AnyMethod_CancelledToken_ThrowsWithoutTouchingRedis()
    {
        var store = CreateRedisStore(Clock);
        var record = NewRecord("alice", TimeSpan.FromMinutes(30));
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.CreateAsync(record, cancelled.Token).AsTask());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.GetAsync(record.Key, cancelled.Token).AsTask());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.ListUserAsync("alice", cancelled.Token).AsTask());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.SweepAsync(Clock.GetUtcNow(), 10, cancelled.Token).AsTask());

        Assert.Empty(await KeysAsync());
    }

    [Theory]
    [InlineData("app{1}:")]
    [InlineData("app}")]
    public void Constructor_PrefixWithBrace_IsRefused(string prefix)
    {
        Assert.Throws<ArgumentException>(() => new RedisSessionStore(server.Connection, new RedisStoreOptions { KeyPrefix = prefix }));
    }

    [Fact]
    public async Task Sweep_PrefixWithGlobCharacters_StaysInsideItsPrefix()
    {
        // Unescaped, "[a]*?" would make SCAN's MATCH pattern also cover the neighbour's "ab..." keys.
        var globbed = new RedisSessionStore(server.Connection, new RedisStoreOptions { KeyPrefix = _prefix + "[a]*?", TimeProvider = Clock });
        var neighbour = new RedisSessionStore(server.Connection, new RedisStoreOptions { KeyPrefix = _prefix + "ab", TimeProvider = Clock });
        var mine = NewRecord("alice", TimeSpan.FromMinutes(1));
        var theirs = NewRecord("alice", TimeSpan.FromMinutes(1));
        await globbed.CreateAsync(mine, default);
        await neighbour.CreateAsync(theirs, default);
        Clock.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal(1, await globbed.SweepAsync(Clock.GetUtcNow(), 100, default));

        Assert.Null(await globbed.GetAsync(mine.Key, default));
        Assert.NotNull(await neighbour.GetAsync(theirs.Key, default));
    }

    [Fact]
    public async Task Keys_HoldOnlyDigests_NeverTheLiveIdOrTheUserId()
    {
        const string user = "alice.secret@example.com";
        var sessions = new SessionManager(CreateRedisStore(Clock), new Bouncer.Revocation.InProcessRevocationChannel(), Clock);
        var ids = new List<string>();
        for (var i = 0; i < 3; i++) ids.Add((await sessions.CreateAsync(user, default)).Id);
        var rotated = await sessions.RotateAsync(ids[0], default);
        ids.Add(rotated!.Value.Id);

        var all = await KeysAsync();
        // The expiry index's sets are named by shard number alone; their members are two digests.
        var expiry = all.Where(k => ((string)k!).Contains(":x:")).ToList();
        var keys = all.Except(expiry).ToList();

        Assert.Equal(4, keys.Count);   // three records (one rotated away, one added) and one user index
        Assert.NotEmpty(expiry);
        foreach (var key in expiry)
        {
            Assert.Matches(@"^bt:[0-9a-f]{32}:x:\{[0-9]{1,2}\}$", (string)key!);
            foreach (var member in await Db.SortedSetRangeByRankAsync(key))
            {
                Assert.Equal(64, ((byte[])member!).Length);
                Assert.DoesNotContain("alice", System.Text.Encoding.Latin1.GetString((byte[])member!), StringComparison.OrdinalIgnoreCase);
            }
        }
        foreach (var key in keys)
        {
            var name = (string)key!;
            Assert.Matches(@"^bt:[0-9a-f]{32}:(s|u):\{[A-Za-z0-9_-]{43}\}$", name);
            Assert.DoesNotContain("alice", name, StringComparison.OrdinalIgnoreCase);
            foreach (var id in ids) Assert.DoesNotContain(id, name, StringComparison.Ordinal);
        }
        // Values hold the user (needed to list sessions) but never a live id either.
        foreach (var key in keys.Where(k => ((string)k!).Contains(":s:")))
        {
            foreach (var field in await Db.HashGetAllAsync(key))
            {
                foreach (var id in ids) Assert.DoesNotContain(id, (string)field.Value!, StringComparison.Ordinal);
            }
        }
    }

    // Expected slots: CLUSTER KEYSLOT on a cluster-enabled redis-server 7.0.15, keys from the Cluster spec.
    [Theory]
    [InlineData("123456789", 0x31C3)]                       // the CRC16/XMODEM check value
    [InlineData("somekey", 11058)]
    [InlineData("foo", 12182)]
    [InlineData("{user1000}.following", 3443)]              // the tag alone is hashed...
    [InlineData("user1000", 3443)]
    [InlineData("foo{}{bar}", 8363)]                        // ...an empty first tag means the whole key
    [InlineData("foo{{bar}}zap", 4015)]                     // "{bar" is the tag
    public void ClusterSlot_SpecificationExamples_Match(string key, int slot)
    {
        Assert.Equal(slot, RedisClusterSlot.Of(key));
    }

    [Fact]
    public async Task EveryCommandSent_TouchesKeysOfOneClusterSlot()
    {
        var store = CreateRedisStore(Clock);
        var sessions = new SessionManager(store, new Bouncer.Revocation.InProcessRevocationChannel(), Clock, new SessionOptions { MaxSessionsPerUser = 3, TouchInterval = TimeSpan.FromMinutes(1) });
        await using var monitor = await RedisMonitor.StartAsync(server.Connection, server.Configuration);

        // Every store operation, including the failure paths.
        var ids = new List<string>();
        for (var i = 0; i < 4; i++) ids.Add((await sessions.CreateAsync(i % 2 == 0 ? "alice" : "zoë@例え.jp", "{\"i\":1}", "client", default)).Id);
        Clock.Advance(TimeSpan.FromMinutes(2));
        await sessions.GetAsync(ids[0], default);                         // touch: update
        await sessions.SetDataAsync(ids[1], "{\"i\":2}", default);
        var rotated = await sessions.RotateAsync(ids[0], default);          // rotation that wins
        await sessions.RotateAsync(ids[0], default);                        // and one that loses
        await sessions.DeleteAsync(ids[2], default);
        await sessions.ListUserAsync("alice", default);
        await sessions.DeleteUserAsync("zoë@例え.jp", default);
        var dup = NewRecord("bob", TimeSpan.FromMinutes(1));
        await store.CreateAsync(dup, default);
        await Assert.ThrowsAsync<SessionKeyCollisionException>(() => store.CreateAsync(dup, default).AsTask());
        Clock.Advance(TimeSpan.FromHours(9));
        await sessions.SweepAsync(null, default);
        Assert.NotNull(rotated);

        var commands = await monitor.StopAsync(server.Connection);

        var ours = commands.Where(c => c.Any(a => ((byte[])a!).AsSpan().IndexOf(Encoding.ASCII.GetBytes(_prefix)) >= 0)).ToList();
        Assert.Contains(ours, c => ((string)c[0]!).StartsWith("EVAL", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(commands, c => string.Equals(c[0], "MULTI", StringComparison.OrdinalIgnoreCase));
        var keyed = 0;
        foreach (var command in ours)
        {
            var keys = await KeysOfAsync(command);
            var slots = keys.Select(k => RedisClusterSlot.Of((byte[])k!)).Distinct().ToList();
            Assert.True(slots.Count <= 1, $"{command[0]} touches keys in slots {string.Join(", ", slots)}: {string.Join(" ", keys)}");
            if (keys.Length > 0) keyed++;
        }
        Assert.True(keyed > 20, $"only {keyed} keyed commands seen");
    }

    // The server itself says which arguments are keys (COMMAND GETKEYS knows EVALSHA's numkeys, etc.).
    private async Task<RedisKey[]> KeysOfAsync(RedisValue[] command)
    {
        try
        {
            return await Server.CommandGetKeysAsync(command);
        }
        catch (RedisServerException e) when (e.Message.Contains("no key arguments", StringComparison.OrdinalIgnoreCase)
                                             || e.Message.Contains("Invalid arguments", StringComparison.OrdinalIgnoreCase))
        {
            return [];   // SCAN and friends: a MATCH pattern is not a key
        }
    }

    [RedisRestartFact]
    public async Task ServerKilledAndRestarted_SameConnectionReconnects_CommittedSessionsSurvive()
    {
        var sessions = CreateManager();
        var live = new List<string>();
        for (var i = 0; i < 20; i++) live.Add((await sessions.CreateAsync("user" + (i % 3), "{\"n\":" + i + "}", null, default)).Id);
        var (_, deleted) = await sessions.CreateAsync("user0", default);
        Assert.True(await sessions.DeleteAsync(deleted, default));
        var rotatedAway = live[0];
        live[0] = (await sessions.RotateAsync(rotatedAway, default))!.Value.Id;
        var before = server.Pid;
        // The promise rests on the server's persistence, not on the store: say which one this test has.
        var config = (await Server.ConfigGetAsync("append*")).ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal("yes", config["appendonly"]);
        Assert.Equal("always", config["appendfsync"]);

        server.Kill();   // SIGKILL: no shutdown, no last fsync; only what AOF already holds survives
        server.Restart();
        await WaitUntilWritableAsync();

        Assert.NotEqual(before, server.Pid);
        for (var i = 0; i < live.Count; i++)
        {
            var found = await sessions.GetAsync(live[i], default);
            Assert.NotNull(found);
            Assert.Equal("{\"n\":" + i + "}", found.Data);
        }
        Assert.Null(await sessions.GetAsync(deleted, default));
        Assert.Null(await sessions.GetAsync(rotatedAway, default));
        Assert.Equal(7, (await sessions.ListUserAsync("user0", default)).Count);
        var (_, after) = await sessions.CreateAsync("user0", default);
        Assert.NotNull(await sessions.GetAsync(after, default));
    }

    // The multiplexer reconnects on its own; wait for it instead of assuming a fixed delay.
    private async Task WaitUntilWritableAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var probe = _prefix + "probe";
        while (true)
        {
            try
            {
                await Db.StringSetAsync(probe, "1", TimeSpan.FromMinutes(1));
                return;
            }
            catch (Exception e) when ((e is RedisConnectionException or RedisTimeoutException) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }
}

/// <summary>A fact that needs a private redis-server it may kill: skipped, visibly, when BOUNCER_TEST_REDIS names another.</summary>
public sealed class RedisRestartFactAttribute : FactAttribute
{
    public RedisRestartFactAttribute()
    {
        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(RedisServer.EnvironmentVariable)))
            Skip = $"kills the server: needs the private redis-server, not the one {RedisServer.EnvironmentVariable} names";
    }
}
