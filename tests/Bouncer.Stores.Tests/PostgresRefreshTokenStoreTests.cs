using Bouncer.Refresh;
using Bouncer.Stores.Postgres;

namespace Bouncer.Stores.Tests;

/// <summary>
/// The refresh-store contract against a real PostgreSQL (32 racing refreshes of one token included),
/// plus what only the table can show. Each test gets its own schema, dropped afterwards.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresRefreshTokenStoreTests(PostgresServer server) : RefreshStoreContract, IDisposable
{
    private readonly List<string> _schemas = [];

    protected override IRefreshTokenStore CreateStore() => CreatePostgresStore();

    private PostgresRefreshTokenStore CreatePostgresStore()
    {
        var schema = "bouncer_test_" + Guid.NewGuid().ToString("N");
        _schemas.Add(schema);
        var store = new PostgresRefreshTokenStore(server.DataSource, new PostgresStoreOptions { Schema = schema });
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

    [Fact]
    public async Task Rotate_OntoAnExistingSuccessorHash_ReturnsFalse_AndLeavesTheCurrentTokenUnrotated()
    {
        var store = CreatePostgresStore();
        var current = Record("current", "fam-1");
        var taken = Record("taken", "fam-2");
        await store.CreateAsync(current, default);
        await store.CreateAsync(taken, default);

        // Update and insert are one statement: the failed insert takes the update down with it.
        Assert.False(await store.RotateAsync("current", Clock.GetUtcNow(), Record("taken", "fam-1") with { Generation = 1 }, default));

        Assert.Equal(current, await store.GetAsync("current", default));
        Assert.Equal(taken, await store.GetAsync("taken", default));
    }

    [Fact]
    public async Task Create_DuplicateHash_ThrowsInvalidOperation()
    {
        var store = CreatePostgresStore();
        await store.CreateAsync(Record("h", "fam"), default);

        await Assert.ThrowsAsync<InvalidOperationException>(() => store.CreateAsync(Record("h", "other"), default).AsTask());
    }

    [Fact]
    public async Task Rotate_RevokedFamily_ReturnsFalse_AndRevokeCountsOnlyLiveRecords()
    {
        var store = CreatePostgresStore();
        await store.CreateAsync(Record("a", "fam"), default);
        Assert.True(await store.RotateAsync("a", Clock.GetUtcNow(), Record("b", "fam") with { Generation = 1 }, default));

        Assert.Equal(2, await store.RevokeFamilyAsync("fam", default));
        Assert.Equal(0, await store.RevokeFamilyAsync("fam", default));

        Assert.False(await store.RotateAsync("b", Clock.GetUtcNow(), Record("c", "fam") with { Generation = 2 }, default));
        Assert.Null(await store.GetAsync("c", default));
        Assert.True((await store.GetAsync("b", default))!.Revoked);
    }

    [Fact]
    public async Task RoundTrip_AllFields_ComeBackEqual()
    {
        var store = CreatePostgresStore();
        var at = new DateTimeOffset(2026, 11, 23, 14, 5, 6, 789, TimeSpan.FromHours(2));
        var record = Record("h", "fam") with { Scope = "read write", RotatedAt = at, Revoked = true, Generation = 7, IssuedAt = at };

        await store.CreateAsync(record, default);

        Assert.Equal(record, await store.GetAsync("h", default));
    }

    [Fact]
    public async Task EnsureSchema_CreatesIndexesOnFamilyUserAndExpiry()
    {
        var store = CreatePostgresStore();
        await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => store.EnsureSchemaAsync()));

        var indexes = new List<string>();
        await using var cmd = server.DataSource.CreateCommand("SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2");
        cmd.Parameters.AddWithValue(store.Options.Schema);
        cmd.Parameters.AddWithValue(PostgresRefreshTokenStore.TableName);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync()) indexes.Add(reader.GetString(0));

        Assert.Equal(4, indexes.Count);
        Assert.Contains(indexes, d => d.StartsWith("CREATE UNIQUE INDEX") && d.EndsWith("(token_hash)"));
        Assert.Contains(indexes, d => d.EndsWith("USING btree (family_id)"));
        Assert.Contains(indexes, d => d.EndsWith("USING btree (user_id)"));
        Assert.Contains(indexes, d => d.EndsWith("USING btree (LEAST(expires_at, family_expires_at))"));
    }

    private RefreshRecord Record(string hash, string family)
    {
        var now = Clock.GetUtcNow();
        return new RefreshRecord
        {
            TokenHash = hash, FamilyId = family, UserId = "alice", Generation = 0, IssuedAt = now,
            ExpiresAt = now.AddHours(1), FamilyExpiresAt = now.AddDays(1),
        };
    }
}
