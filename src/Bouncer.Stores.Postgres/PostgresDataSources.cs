using Npgsql;

namespace Bouncer.Stores.Postgres;

/// <summary>Data sources for Bouncer's PostgreSQL stores.</summary>
public static class PostgresDataSources
{
    /// <summary>
    /// A pooled data source tuned for the stores (<c>No Reset On Close=true</c>; see
    /// <c>docs/postgres.md</c> for why that is safe). Use it when only Bouncer's stores share the pool.
    /// </summary>
    /// <exception cref="ArgumentException">The connection string is malformed.</exception>
    public static NpgsqlDataSource Create(string connectionString) => PostgresStatements.CreateDataSource(connectionString);
}
