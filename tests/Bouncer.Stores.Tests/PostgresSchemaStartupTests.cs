using Bouncer.Sessions;
using Bouncer.Stores.Postgres;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Bouncer.Stores.Tests;

/// <summary>
/// Start-up DDL against a real PostgreSQL: it creates only what the catalogs say is missing, so a role that does
/// not own the tables starts, a start takes no table lock when nothing changes, and an upgrade's ALTER waits for
/// its lock only as long as lock_timeout.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresSchemaStartupTests(PostgresServer server) : IAsyncLifetime
{
    private readonly string _schema = "bouncer_test_" + Guid.NewGuid().ToString("N");
    private readonly string _role = "bouncer_test_" + Guid.NewGuid().ToString("N");

    public async Task InitializeAsync()
    {
        // The tables exist, made by the owner (an administrator, or the previous version's start).
        await using var provider = Start(server.ConnectionString);
        provider.GetRequiredService<SessionManager>();
    }

    public async Task DisposeAsync()
    {
        await ExecAsync($"DROP SCHEMA IF EXISTS \"{_schema}\" CASCADE");
        await ExecAsync($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{_role}'");
        await ExecAsync($"DROP ROLE IF EXISTS \"{_role}\"");
    }

    [Fact]
    public async Task UsePostgres_RoleWithCrudAndCreateNotOwningTheTables_Starts()
    {
        await ExecAsync($"CREATE ROLE \"{_role}\" LOGIN");
        await ExecAsync($"GRANT USAGE, CREATE ON SCHEMA \"{_schema}\" TO \"{_role}\"");
        await ExecAsync($"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA \"{_schema}\" TO \"{_role}\"");
        await ExecAsync($"GRANT USAGE ON ALL SEQUENCES IN SCHEMA \"{_schema}\" TO \"{_role}\"");
        var connection = new NpgsqlConnectionStringBuilder(server.ConnectionString) { Username = _role }.ConnectionString;

        await using var provider = Start(connection);
        var (_, id) = await provider.GetRequiredService<SessionManager>().CreateAsync("alice", default);

        Assert.NotNull(await provider.GetRequiredService<SessionManager>().GetAsync(id, default));
    }

    [Fact]
    public async Task UsePostgres_NothingMissingWhileAWriteTransactionIsOpen_StartsWithoutWaiting()
    {
        // An open transaction that wrote holds ROW EXCLUSIVE on the table: a no-op ALTER TABLE still asks for ACCESS
        // EXCLUSIVE and would wait for it, with every later request queued behind.
        await using var conn = await server.DataSource.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        await using (var insert = new NpgsqlCommand($"INSERT INTO \"{_schema}\".\"{PostgresUserStore.TableName}\" (username, password_hash, created_at) VALUES ('held', 'x', now())", conn, tx))
            await insert.ExecuteNonQueryAsync();

        await using var provider = Start(server.ConnectionString);

        Assert.NotNull(provider.GetRequiredService<SessionManager>());
        await tx.RollbackAsync();
    }

    [Fact]
    public async Task UsePostgres_TableOfAnOlderVersion_GetsTheMissingColumnAndIndex()
    {
        await ExecAsync($"DROP INDEX \"{_schema}\".\"{PostgresRefreshTokenStore.TableName}_user_id_idx\"");
        await ExecAsync($"ALTER TABLE \"{_schema}\".\"{PostgresRefreshTokenStore.TableName}\" DROP COLUMN client");

        await using (var provider = Start(server.ConnectionString))
            provider.GetRequiredService<SessionManager>();

        Assert.Equal(1L, await ScalarAsync($"SELECT count(*) FROM pg_attribute WHERE attrelid = '\"{_schema}\".\"{PostgresRefreshTokenStore.TableName}\"'::regclass AND attname = 'client' AND NOT attisdropped"));
        Assert.Equal(1L, await ScalarAsync($"SELECT count(*) FROM pg_indexes WHERE schemaname = '{_schema}' AND indexname = '{PostgresRefreshTokenStore.TableName}_user_id_idx'"));
    }

    [Fact]
    public async Task UsePostgres_UpgradeAlterBlockedByAnOpenTransaction_FailsOnLockTimeoutNotCommandTimeout()
    {
        await ExecAsync($"ALTER TABLE \"{_schema}\".\"{PostgresRefreshTokenStore.TableName}\" DROP COLUMN client");
        await using var conn = await server.DataSource.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        await using (var read = new NpgsqlCommand($"SELECT count(*) FROM \"{_schema}\".\"{PostgresRefreshTokenStore.TableName}\"", conn, tx))
            await read.ExecuteScalarAsync();

        await using var provider = Start(server.ConnectionString);
        var error = Assert.Throws<BouncerConfigurationException>(() => provider.GetRequiredService<SessionManager>());

        // 55P03 lock_not_available: the ALTER gave up its place in the lock queue, so traffic behind it moves again.
        Assert.Equal(PostgresErrorCodes.LockNotAvailable, Assert.IsType<PostgresException>(error.InnerException).SqlState);
        await tx.RollbackAsync();
    }

    private ServiceProvider Start(string connectionString) =>
        new ServiceCollection().AddBouncerCore().UsePostgres(connectionString, schema: _schema).Services.BuildServiceProvider();

    private async Task ExecAsync(string sql)
    {
        await using var cmd = server.DataSource.CreateCommand(sql);
        await cmd.ExecuteNonQueryAsync();
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var cmd = server.DataSource.CreateCommand(sql);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }
}
