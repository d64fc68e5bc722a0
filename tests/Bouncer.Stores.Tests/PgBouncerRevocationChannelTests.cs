using Bouncer.Revocation;
using Bouncer.Stores.Postgres;
using Npgsql;

namespace Bouncer.Stores.Tests;

/// <summary>
/// The revocation-channel contract on PostgreSQL behind PgBouncer, each "instance" with its own data sources. In
/// session pooling the channel works through the pooler as is, LISTEN included. In transaction pooling it publishes
/// and reads the log through the pooler without prepared statements, and LISTENs over a direct connection (the
/// separate listen data source): a server session that listened is lent to other clients between transactions.
/// </summary>
public abstract class PgBouncerRevocationChannelTests(PgBouncerServer pgbouncer, bool transactionPooling) : RevocationChannelContract, IAsyncLifetime
{
    private readonly List<string> _schemas = [];
    private readonly List<NpgsqlDataSource> _dataSources = [];

    protected override async Task<IRevocationChannel[]> CreateChannelsAsync(int count)
    {
        var options = new PostgresStoreOptions { Schema = "bouncer_test_" + Guid.NewGuid().ToString("N"), PreparedStatements = !transactionPooling };
        _schemas.Add(options.Schema);
        var channels = new PostgresRevocationChannel[count];
        for (var i = 0; i < count; i++)
        {
            var pooled = Own(transactionPooling ? pgbouncer.TransactionPooled : pgbouncer.SessionPooled);
            channels[i] = transactionPooling
                ? new PostgresRevocationChannel(pooled, Own(pgbouncer.Postgres.ConnectionString), options)
                : new PostgresRevocationChannel(pooled, options);
        }
        await channels[0].EnsureSchemaAsync();
        return channels;
    }

    private NpgsqlDataSource Own(string connectionString)
    {
        var source = PostgresDataSources.Create(connectionString);
        lock (_dataSources) _dataSources.Add(source);
        return source;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var s in _dataSources) await s.DisposeAsync();
        foreach (var schema in _schemas)
        {
            await using var cmd = pgbouncer.Postgres.DataSource.CreateCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
            await cmd.ExecuteNonQueryAsync();
        }
    }
}

[Collection(PgBouncerCollection.Name)]
public sealed class PgBouncerSessionPoolingRevocationChannelTests(PgBouncerServer pgbouncer) : PgBouncerRevocationChannelTests(pgbouncer, transactionPooling: false);

[Collection(PgBouncerCollection.Name)]
public sealed class PgBouncerTransactionPoolingRevocationChannelTests(PgBouncerServer pgbouncer) : PgBouncerRevocationChannelTests(pgbouncer, transactionPooling: true);
