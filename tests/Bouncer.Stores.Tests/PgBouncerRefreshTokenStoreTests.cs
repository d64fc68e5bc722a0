using Bouncer.Refresh;
using Bouncer.Stores.Postgres;
using Npgsql;

namespace Bouncer.Stores.Tests;

/// <summary>The shared refresh-store contract on PostgreSQL behind PgBouncer in transaction pooling, without prepared statements.</summary>
[Collection(PgBouncerCollection.Name)]
public sealed class PgBouncerRefreshTokenStoreTests(PgBouncerServer pgbouncer) : RefreshStoreContract, IDisposable
{
    private readonly List<string> _schemas = [];
    private readonly NpgsqlDataSource _pooled = PostgresDataSources.Create(pgbouncer.TransactionPooled);

    protected override IRefreshTokenStore CreateStore()
    {
        var options = new PostgresStoreOptions { Schema = "bouncer_test_" + Guid.NewGuid().ToString("N"), PreparedStatements = false };
        _schemas.Add(options.Schema);
        var store = new PostgresRefreshTokenStore(_pooled, options);
        store.EnsureSchemaAsync().GetAwaiter().GetResult();
        return store;
    }

    public void Dispose()
    {
        _pooled.Dispose();
        foreach (var schema in _schemas)
        {
            using var cmd = pgbouncer.Postgres.DataSource.CreateCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
            cmd.ExecuteNonQuery();
        }
    }
}
