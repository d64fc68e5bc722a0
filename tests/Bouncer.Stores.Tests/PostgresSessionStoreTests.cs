using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Bouncer.Sessions;
using Bouncer.Stores.Postgres;
using Bouncer.Tests;
using Npgsql;

namespace Bouncer.Stores.Tests;

/// <summary>
/// The shared contract against a real PostgreSQL, plus what only PostgreSQL can show: crash and
/// restart, what the table holds, the schema, and sweeping beside live readers. Each test gets its own
/// schema (dropped afterwards), so tests never see each other's rows and nothing is truncated.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresSessionStoreTests(PostgresServer server) : SessionStoreContract, IDisposable
{
    private readonly List<string> _schemas = [];

    protected override ISessionStore CreateStore(TimeProvider clock) => CreatePostgresStore();

    private PostgresSessionStore CreatePostgresStore(NpgsqlDataSource? dataSource = null)
    {
        var schema = "bouncer_test_" + Guid.NewGuid().ToString("N");
        _schemas.Add(schema);
        var store = new PostgresSessionStore(dataSource ?? server.DataSource, new PostgresSessionStoreOptions { Schema = schema, Table = "sessions" });
        store.EnsureSchemaAsync().GetAwaiter().GetResult();
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

    [Theory]
    [InlineData(true)]    // SIGKILL: clients find dead sockets, WAL replay on start
    [InlineData(false)]   // fast shutdown: clients get 57P01 first
    public async Task Restart_MidRun_CommittedSessionsSurvive_AndTheSameDataSourceReconnects(bool crash)
    {
        // Its own cluster: killing the shared one would break the other tests of the collection.
        using var own = PostgresServer.StartPrivate();
        await using var dataSource = NpgsqlDataSource.Create(own.ConnectionString);
        var store = new PostgresSessionStore(dataSource);
        await store.EnsureSchemaAsync();
        var sessions = new SessionManager(store, new Bouncer.Revocation.InProcessRevocationChannel(), Clock);
        var ids = new List<string>();
        // Several concurrent creates leave several idle connections in the pool, all dead after the crash.
        await Parallel.ForAsync(0, 30, new ParallelOptions { MaxDegreeOfParallelism = 6 }, async (i, ct) =>
        {
            var (_, id) = await sessions.CreateAsync("user" + (i % 3), """{"n":""" + i + "}", null, ct);
            lock (ids) ids.Add(id);
        });

        if (crash) own.Kill();
        else own.Stop();
        own.Restart();

        // Reads are retried once by the store after it clears the pool, so the first read just works.
        foreach (var id in ids) Assert.NotNull(await sessions.GetAsync(id, default));
        var total = 0;
        for (var u = 0; u < 3; u++) total += (await sessions.ListUserAsync("user" + u, default)).Count;
        Assert.Equal(30, total);
        // New writes go through on fresh connections, rotation included.
        var (_, fresh) = await sessions.CreateAsync("user0", default);
        Assert.NotNull(await sessions.RotateAsync(fresh, default));
        Assert.Equal(11, (await sessions.ListUserAsync("user0", default)).Count);
    }

    [Fact]
    public async Task Write_FirstAfterCrash_FailsTransiently_AndTheRetrySucceeds()
    {
        using var own = PostgresServer.StartPrivate();
        await using var dataSource = NpgsqlDataSource.Create(own.ConnectionString);
        var store = new PostgresSessionStore(dataSource);
        await store.EnsureSchemaAsync();
        var before = NewRecord("alice");
        await Parallel.ForAsync(0, 4, async (_, ct) => await store.GetAsync(before.Key, ct));
        await store.CreateAsync(before, default);

        own.Kill();
        own.Restart();

        // A write is not retried by the store (it may have committed before the reply was lost): the
        // first one meets a dead pooled socket and the caller sees a transient error. The store has
        // cleared the pool on the way, so the caller's own retry dials a fresh connection.
        var after = NewRecord("alice");
        var first = await Assert.ThrowsAnyAsync<NpgsqlException>(() => store.CreateAsync(after, default).AsTask());
        Assert.True(first.IsTransient, first.ToString());
        await store.CreateAsync(after, default);

        Assert.Equal(before, await store.GetAsync(before.Key, default));
        Assert.Equal(after, await store.GetAsync(after.Key, default));
    }

    [Fact]
    public async Task Store_OverAMultiplexingDataSource_WorksWithoutExplicitPrepare()
    {
        // Multiplexing connections refuse explicit Prepare; the store then leaves preparing to Npgsql.
        await using var dataSource = NpgsqlDataSource.Create(server.ConnectionString + ";Multiplexing=true;Max Auto Prepare=10");
        var store = CreatePostgresStore(dataSource);
        var record = NewRecord("alice");

        await store.CreateAsync(record, default);
        var next = NewRecord("alice");
        Assert.True(await store.RotateAsync(record.Key, next, default));

        Assert.Null(await store.GetAsync(record.Key, default));
        Assert.Equal(next, await store.GetAsync(next.Key, default));
    }

    [Fact]
    public async Task Get_Repeated_UsesOneServerPreparedStatementPerConnection()
    {
        // One pooled connection, so every command below runs on the same backend and sees its statements.
        await using var dataSource = NpgsqlDataSource.Create(server.ConnectionString + ";Maximum Pool Size=1");
        var store = CreatePostgresStore(dataSource);
        var record = NewRecord("alice");
        await store.CreateAsync(record, default);

        for (var i = 0; i < 5; i++) Assert.NotNull(await store.GetAsync(record.Key, default));

        await using var cmd = dataSource.CreateCommand("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%WHERE id = $1' AND statement LIKE 'SELECT %' AND statement LIKE $1");
        cmd.Parameters.AddWithValue($"%\"{store.Options.Schema}\"%");
        Assert.Equal(1L, await cmd.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Table_HoldsOnlyThe32ByteDigest_NeverTheId()
    {
        var store = CreatePostgresStore();
        var sessions = new SessionManager(store, new Bouncer.Revocation.InProcessRevocationChannel(), Clock);
        var (_, id) = await sessions.CreateAsync("alice", """{"k":"v"}""", "Firefox", default);

        await using var cmd = server.DataSource.CreateCommand($"SELECT id, t::text FROM \"{store.Options.Schema}\".\"{store.Options.Table}\" t");
        await using var reader = await cmd.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        var stored = reader.GetFieldValue<byte[]>(0);
        var wholeRow = reader.GetString(1);

        Assert.Equal(32, stored.Length);
        Assert.Equal(SHA256.HashData(Base64Url.DecodeFromChars(id)), stored);
        Assert.NotEqual(Encoding.UTF8.GetBytes(id), stored);
        Assert.NotEqual(Base64Url.DecodeFromChars(id), stored);
        Assert.DoesNotContain(id, wholeRow);
        Assert.False(await reader.ReadAsync());
    }

    [Fact]
    public async Task EnsureSchema_CreatesColumnsAndIndexes_AndIsIdempotentUnderConcurrency()
    {
        var store = CreatePostgresStore();
        // Already created once; more calls, some at the same time, change nothing and do not fail.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => store.EnsureSchemaAsync()));
        await store.EnsureSchemaAsync();

        var columns = new List<(string Name, string Type, string Nullable)>();
        await using (var cmd = server.DataSource.CreateCommand(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position"))
        {
            cmd.Parameters.AddWithValue(store.Options.Schema);
            cmd.Parameters.AddWithValue(store.Options.Table);
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync()) columns.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }
        var indexes = new List<string>();
        await using (var cmd = server.DataSource.CreateCommand("SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2"))
        {
            cmd.Parameters.AddWithValue(store.Options.Schema);
            cmd.Parameters.AddWithValue(store.Options.Table);
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync()) indexes.Add(reader.GetString(0));
        }

        Assert.Equal(
        [
            ("id", "bytea", "NO"), ("user_id", "text", "NO"), ("data", "json", "YES"), ("client", "text", "YES"),
            ("created_at", "timestamp with time zone", "NO"), ("last_seen_at", "timestamp with time zone", "NO"),
            ("expires_at", "timestamp with time zone", "NO"), ("absolute_expires_at", "timestamp with time zone", "NO"),
        ], columns);
        Assert.Equal(3, indexes.Count);
        Assert.Contains(indexes, d => d.StartsWith("CREATE UNIQUE INDEX") && d.EndsWith("(id)"));
        Assert.Contains(indexes, d => d.EndsWith("USING btree (expires_at)"));
        Assert.Contains(indexes, d => d.EndsWith("USING btree (user_id)"));
    }

    [Fact]
    public async Task Sweep_ThousandsOfRows_RunsInBoundedBatches_WhileReadsContinue()
    {
        var store = CreatePostgresStore();
        var now = Clock.GetUtcNow();
        // 5,000 expired rows in one statement (digests of the row number: any 32 bytes do).
        await using (var fill = server.DataSource.CreateCommand($"""
            INSERT INTO "{store.Options.Schema}"."{store.Options.Table}"
                (id, user_id, created_at, last_seen_at, expires_at, absolute_expires_at)
            SELECT sha256(i::text::bytea), 'old' || (i % 50), $1, $1, $1, $1 FROM generate_series(1, 5000) i
            """))
        {
            fill.Parameters.AddWithValue(now.AddHours(-3));
            await fill.ExecuteNonQueryAsync();
        }
        var live = Enumerable.Range(0, 20).Select(i => NewRecord("live" + i)).ToList();
        foreach (var r in live) await store.CreateAsync(r, default);

        using var stop = new CancellationTokenSource();
        var misses = 0;
        var reads = 0;
        var readers = Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (var r in live)
                {
                    if (await store.GetAsync(r.Key, default) is null) Interlocked.Increment(ref misses);
                    Interlocked.Increment(ref reads);
                }
            }
        })).ToArray();
        var batches = new List<int>();
        int n;
        do batches.Add(n = await store.SweepAsync(now, 400, default));
        while (n == 400);
        stop.Cancel();
        await Task.WhenAll(readers);

        Assert.Equal(5000, batches.Sum());
        Assert.All(batches, b => Assert.InRange(b, 0, 400));
        Assert.True(batches.Count >= 13, $"5,000 rows in batches of 400 take at least 13 batches, took {batches.Count}");
        Assert.Equal(0, misses);
        Assert.True(reads > 0);
        foreach (var r in live) Assert.Equal(r, await store.GetAsync(r.Key, default));
    }

    [Fact]
    public async Task Sweep_RowLockedByAnotherTransaction_IsSkippedNotWaitedFor()
    {
        var store = CreatePostgresStore();
        var expired = NewRecord("alice") with { ExpiresAt = Clock.GetUtcNow().AddMinutes(-1) };
        var other = NewRecord("bob") with { ExpiresAt = Clock.GetUtcNow().AddMinutes(-1) };
        await store.CreateAsync(expired, default);
        await store.CreateAsync(other, default);

        await using var conn = await server.DataSource.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        await using (var lockRow = new NpgsqlCommand($"SELECT 1 FROM \"{store.Options.Schema}\".\"{store.Options.Table}\" WHERE id = $1 FOR UPDATE", conn, tx))
        {
            lockRow.Parameters.AddWithValue(expired.Key.ToArray());
            await lockRow.ExecuteScalarAsync();
        }

        // A time limit turns "blocked behind the lock" into a failure instead of a hang.
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal(1, await store.SweepAsync(Clock.GetUtcNow(), 100, limit.Token));
        Assert.NotNull(await store.GetAsync(expired.Key, default));
        Assert.Null(await store.GetAsync(other.Key, default));

        await tx.RollbackAsync();
        Assert.Equal(1, await store.SweepAsync(Clock.GetUtcNow(), 100, default));
        Assert.Null(await store.GetAsync(expired.Key, default));
    }

    [Fact]
    public async Task Update_BlockedByARowLock_HonoursCancellation()
    {
        var store = CreatePostgresStore();
        var record = NewRecord("alice");
        await store.CreateAsync(record, default);
        await using var conn = await server.DataSource.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        await using (var lockRow = new NpgsqlCommand($"SELECT 1 FROM \"{store.Options.Schema}\".\"{store.Options.Table}\" WHERE id = $1 FOR UPDATE", conn, tx))
        {
            lockRow.Parameters.AddWithValue(record.Key.ToArray());
            await lockRow.ExecuteScalarAsync();
        }

        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.UpdateAsync(record with { Data = """{"x":1}""" }, cancel.Token).AsTask());

        await tx.RollbackAsync();
        Assert.Null((await store.GetAsync(record.Key, default))!.Data);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.GetAsync(record.Key, new CancellationToken(canceled: true)).AsTask());
    }

    [Fact]
    public async Task Create_TimestampsAndExactJsonText_RoundTripAsUtc()
    {
        var store = CreatePostgresStore();
        // Whole milliseconds given with a non-UTC offset come back as the same instant in UTC; the JSON
        // text keeps its spacing and key order (a jsonb column would normalise both).
        var at = new DateTimeOffset(2026, 11, 23, 14, 5, 6, 789, TimeSpan.FromHours(2));
        var record = NewRecord("alice") with { CreatedAt = at, LastSeenAt = at, Data = """{ "z": 1,  "a": [ 2 ] }""" };
        await store.CreateAsync(record, default);

        var found = await store.GetAsync(record.Key, default);

        Assert.Equal(at, found!.CreatedAt);
        Assert.Equal(TimeSpan.Zero, found.CreatedAt.Offset);
        Assert.Equal(at.UtcTicks, found.LastSeenAt.UtcTicks);
        Assert.Equal("""{ "z": 1,  "a": [ 2 ] }""", found.Data);
    }

    [Fact]
    public async Task Rotate_OntoAnExistingKey_Throws_AndTheOldSessionStays()
    {
        var store = CreatePostgresStore();
        var old = NewRecord("alice") with { Data = """{"v":1}""" };
        var taken = NewRecord("bob");
        await store.CreateAsync(old, default);
        await store.CreateAsync(taken, default);

        // Delete and insert are one statement: the failed insert takes the delete down with it.
        await Assert.ThrowsAsync<SessionKeyCollisionException>(() => store.RotateAsync(old.Key, taken with { UserId = "alice" }, default).AsTask());

        Assert.Equal(old, await store.GetAsync(old.Key, default));
        Assert.Equal(taken, await store.GetAsync(taken.Key, default));
    }

    [Fact]
    public async Task Dispose_DisposesOnlyADataSourceTheStoreBuilt()
    {
        var schema = CreatePostgresStore().Options.Schema;
        var options = new PostgresSessionStoreOptions { Schema = schema, Table = "sessions" };
        var record = NewRecord("alice");
        var owning = new PostgresSessionStore(server.ConnectionString, options);
        await owning.CreateAsync(record, default);

        await owning.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => owning.GetAsync(record.Key, default).AsTask());

        await using var dataSource = NpgsqlDataSource.Create(server.ConnectionString);
        await new PostgresSessionStore(dataSource, options).DisposeAsync();
        Assert.Equal(record, await new PostgresSessionStore(dataSource, options).GetAsync(record.Key, default));
    }

    [Theory]
    [InlineData("public", "sessions; DROP TABLE x")]
    [InlineData("public", "Sessions")]
    [InlineData("a\"b", "sessions")]
    [InlineData("public", "")]
    [InlineData("public", "a_name_that_is_far_too_long_for_the_derived_index_names")]
    public void Constructor_BadIdentifier_Throws(string schema, string table)
    {
        Assert.Throws<ArgumentException>(() => new PostgresSessionStore(server.DataSource, new PostgresSessionStoreOptions { Schema = schema, Table = table }));
    }

    private SessionRecord NewRecord(string userId)
    {
        var now = DateTimeOffset.FromUnixTimeMilliseconds(Clock.GetUtcNow().ToUnixTimeMilliseconds());
        return new SessionRecord
        {
            Key = SessionId.New().Key, UserId = userId, CreatedAt = now, LastSeenAt = now,
            ExpiresAt = now.AddMinutes(30), AbsoluteExpiresAt = now.AddHours(8),
        };
    }
}
