using Bouncer.Sessions;
using Bouncer.Stores.Postgres;
using Npgsql;

namespace Bouncer.Stores.Tests;

/// <summary>
/// The shared session contract on PostgreSQL behind PgBouncer: in session pooling with the stores as they are, and in
/// transaction pooling with <see cref="PostgresSessionStoreOptions.PreparedStatements"/> false. Each test has its own
/// schema, dropped afterwards over the direct connection.
/// </summary>
public abstract class PgBouncerSessionStoreTests(PgBouncerServer pgbouncer, bool transactionPooling) : SessionStoreContract, IDisposable
{
    private readonly List<string> _schemas = [];

    /// <summary>The poolers and the PostgreSQL behind them.</summary>
    protected PgBouncerServer PgBouncer => pgbouncer;

    private readonly NpgsqlDataSource _pooled = PostgresDataSources.Create(transactionPooling ? pgbouncer.TransactionPooled : pgbouncer.SessionPooled);

    protected override ISessionStore CreateStore(TimeProvider clock)
    {
        var schema = "bouncer_test_" + Guid.NewGuid().ToString("N");
        _schemas.Add(schema);
        var store = new PostgresSessionStore(_pooled, new PostgresSessionStoreOptions { Schema = schema, PreparedStatements = !transactionPooling });
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

[Collection(PgBouncerCollection.Name)]
public sealed class PgBouncerSessionPoolingSessionStoreTests(PgBouncerServer pgbouncer) : PgBouncerSessionStoreTests(pgbouncer, transactionPooling: false);

[Collection(PgBouncerCollection.Name)]
public sealed class PgBouncerTransactionPoolingSessionStoreTests(PgBouncerServer pgbouncer) : PgBouncerSessionStoreTests(pgbouncer, transactionPooling: true)
{
    /// <summary>Why <see cref="PostgresSessionStoreOptions.PreparedStatements"/> must be false here (PgBouncer 1.18 has no max_prepared_statements).</summary>
    [Fact]
    public async Task PreparedStatement_WhenAnotherClientHoldsItsServerConnection_IsGone()
    {
        await using var source = NpgsqlDataSource.Create(PgBouncer.TransactionPooled);
        await using var a = await source.OpenConnectionAsync();
        await using var prepared = new NpgsqlCommand("SELECT 1", a);
        await prepared.PrepareAsync();
        // The prepare ran in a transaction of its own; the pooler lends that server connection to the next client.
        await using var b = await source.OpenConnectionAsync();
        await using var tx = await b.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("SELECT 1", b, tx)) await hold.ExecuteScalarAsync();

        var e = await Assert.ThrowsAsync<PostgresException>(() => prepared.ExecuteScalarAsync());

        Assert.Equal(PostgresErrorCodes.InvalidSqlStatementName, e.SqlState);   // prepared statement "_p1" does not exist
    }
}
