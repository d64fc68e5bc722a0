using Bouncer.Stores.Postgres;
using Bouncer.Users;
using Npgsql;

namespace Bouncer.Stores.Tests;

/// <summary>The shared user and secret store contract on PostgreSQL behind PgBouncer in transaction pooling, without prepared statements.</summary>
[Collection(PgBouncerCollection.Name)]
public sealed class PgBouncerUserStoreTests(PgBouncerServer pgbouncer) : UserStoreContract, IDisposable
{
    private readonly List<string> _schemas = [];
    private readonly NpgsqlDataSource _pooled = PostgresDataSources.Create(pgbouncer.TransactionPooled);

    protected override (IUserStore Users, ISecretStore Secrets) CreateStores()
    {
        var options = new PostgresStoreOptions { Schema = "bouncer_test_" + Guid.NewGuid().ToString("N"), PreparedStatements = false };
        _schemas.Add(options.Schema);
        var users = new PostgresUserStore(_pooled, options);
        var secrets = new PostgresSecretStore(_pooled, options);
        users.EnsureSchemaAsync().GetAwaiter().GetResult();
        secrets.EnsureSchemaAsync().GetAwaiter().GetResult();
        return (users, secrets);
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
