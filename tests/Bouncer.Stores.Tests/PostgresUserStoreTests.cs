using Bouncer.Stores.Postgres;
using Bouncer.Users;

namespace Bouncer.Stores.Tests;

/// <summary>The user and secret store contract against a real PostgreSQL; each test has its own schema.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresUserStoreTests(PostgresServer server) : UserStoreContract, IDisposable
{
    private readonly List<string> _schemas = [];

    protected override (IUserStore Users, ISecretStore Secrets) CreateStores()
    {
        var options = new PostgresStoreOptions { Schema = "bouncer_test_" + Guid.NewGuid().ToString("N") };
        _schemas.Add(options.Schema);
        var users = new PostgresUserStore(server.DataSource, options);
        var secrets = new PostgresSecretStore(server.DataSource, options);
        users.EnsureSchemaAsync().GetAwaiter().GetResult();
        secrets.EnsureSchemaAsync().GetAwaiter().GetResult();
        return (users, secrets);
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
    public async Task Update_ChangesLoginStateOnly_AndReturnsFalseWhenGone()
    {
        var users = CreateStores().Users;
        var created = new UserRecord { Username = "erin", PasswordHash = "hash-1", Roles = "user", CreatedAt = Clock.GetUtcNow() };
        await users.CreateAsync(created, default);
        var locked = Clock.GetUtcNow().AddMinutes(5);

        Assert.True(await users.UpdateAsync(created with { PasswordHash = "ignored", CreatedAt = locked, Roles = "admin", FailedLogins = 3, LockedUntil = locked }, default));
        Assert.False(await users.UpdateAsync(created with { Username = "nobody" }, default));

        Assert.Equal(created with { Roles = "admin", FailedLogins = 3, LockedUntil = locked }, await users.GetAsync("erin", default));
        Assert.Null(await users.GetAsync("nobody", default));
    }

    [Fact]
    public async Task EnsureSchema_TableFromBeforeSuspended_GainsTheColumn_AndKeepsItsRows()
    {
        var options = new PostgresStoreOptions { Schema = "bouncer_test_" + Guid.NewGuid().ToString("N") };
        _schemas.Add(options.Schema);
        await using (var cmd = server.DataSource.CreateCommand($"""
            CREATE SCHEMA "{options.Schema}";
            CREATE TABLE "{options.Schema}".bouncer_users (username text PRIMARY KEY, password_hash text NOT NULL, roles text NOT NULL DEFAULT '',
                failed_logins integer NOT NULL DEFAULT 0, locked_until timestamptz, created_at timestamptz NOT NULL);
            INSERT INTO "{options.Schema}".bouncer_users (username, password_hash, roles, created_at) VALUES ('old', 'h', 'admin', '2026-01-01T00:00:00Z');
            """)) await cmd.ExecuteNonQueryAsync();

        var users = new PostgresUserStore(server.DataSource, options);
        await Task.WhenAll(users.EnsureSchemaAsync(), users.EnsureSchemaAsync());

        var old = new UserRecord { Username = "old", PasswordHash = "h", Roles = "admin", CreatedAt = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero) };
        Assert.Equal(old, await users.GetAsync("old", default));
        Assert.True(await users.UpdateAsync(old with { Suspended = true }, default));
        Assert.Equal([old with { Suspended = true }], await users.ListAsync("o", null, 10, default));
    }

    [Fact]
    public async Task Secrets_RacingGetOrAddOnSeparateDataSources_AllSeeOneValue()
    {
        var options = ((PostgresSecretStore)CreateStores().Secrets).Options;
        var sources = Enumerable.Range(0, 4).Select(_ => Npgsql.NpgsqlDataSource.Create(server.ConnectionString)).ToList();
        try
        {
            // Separate pools, as separate instances starting at once would have.
            var winners = await Task.WhenAll(sources.Select((s, i) => Task.Run(async () =>
                await new PostgresSecretStore(s, options).GetOrAddAsync("signing-keys", "value-" + i, default))));

            Assert.Single(winners.Distinct());
            Assert.Equal(winners[0], await new PostgresSecretStore(server.DataSource, options).GetAsync("signing-keys", default));
        }
        finally
        {
            foreach (var s in sources) await s.DisposeAsync();
        }
    }
}
