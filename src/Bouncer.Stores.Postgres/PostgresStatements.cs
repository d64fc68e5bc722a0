using Npgsql;
using NpgsqlTypes;

namespace Bouncer.Stores.Postgres;

/// <summary>
/// What every PostgreSQL store shares: schema creation under an advisory lock, one prepared statement per
/// call, parameter builders, and the transient-fault rule (clear the pool on a connection fault; retry
/// reads once, never writes).
/// </summary>
internal static class PostgresStatements
{
    /// <summary>
    /// A pooled data source for a Bouncer store built from a connection string, with <c>No Reset On Close=true</c>:
    /// Npgsql's reset of a returned connection that holds prepared statements is several statements sent ahead
    /// of the next command, which every one-statement call of these stores paid for (0.55-0.65x the throughput
    /// of a raw prepared command; bench/results/store.md). Safe because no store leaves session state behind:
    /// no SET, session advisory locks or temporary tables, transactions end before the connection is returned,
    /// and the revocation channel runs <c>UNLISTEN *; RESET application_name</c> before returning its LISTEN
    /// connection. Callers that pass their own data source can set the same option when only these stores use it.
    /// </summary>
    public static NpgsqlDataSource CreateDataSource(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { NoResetOnClose = true };
        // Bounded waits unless the connection string sets its own: during an outage a request answers 503 within a
        // few seconds instead of hanging on Npgsql's 15 s connect and 30 s command defaults.
        // Decided by key, never by substring ("Command Timeout" contains "Timeout").
        var keys = GivenKeys(connectionString);
        if (!keys.Contains("timeout")) builder.Timeout = 3;
        if (!keys.Contains("commandtimeout")) builder.CommandTimeout = 5;
        return NpgsqlDataSource.Create(builder);
    }

    // The keys a connection string names, parsed as ADO.NET does (quoting, escaped ';'), lower case without spaces as
    // Npgsql matches them: "Command Timeout" and "CommandTimeout" are one key.
    private static HashSet<string> GivenKeys(string connectionString)
    {
        var parsed = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        return parsed.Keys.Cast<string>().Select(k => k.Replace(" ", "", StringComparison.Ordinal).ToLowerInvariant()).ToHashSet();
    }

    /// <summary>False on a multiplexing data source, which refuses explicit Prepare (Npgsql auto-prepares there).</summary>
    public static bool CanPrepare(NpgsqlDataSource dataSource) =>
        !new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).Multiplexing;

    /// <summary>
    /// How long one DDL statement waits for its table lock before start-up fails (55P03): a waiting ALTER TABLE or
    /// CREATE INDEX queues every later read and write of the table behind it, so the wait is kept short.
    /// </summary>
    public const string DdlLockTimeout = "5s";

    /// <summary>
    /// Creates what is missing of <paramref name="table"/>: its schema, the table, columns added since the table's
    /// first version, indexes. The catalogs are read first and only missing objects are created, because the
    /// no-op forms still check privileges and take locks: <c>CREATE SCHEMA IF NOT EXISTS</c> needs CREATE on the
    /// database, <c>ALTER TABLE ... ADD COLUMN IF NOT EXISTS</c> needs ownership and takes ACCESS EXCLUSIVE, and
    /// <c>CREATE INDEX IF NOT EXISTS</c> needs ownership and takes SHARE. So a role that only reads and writes tables
    /// an administrator (or an older version) created starts, and a start blocks no traffic when nothing changes.
    /// </summary>
    public static async Task EnsureSchemaAsync(NpgsqlDataSource dataSource, PostgresTableSchema table, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        await using var tx = await conn.BeginTransactionAsync(ct).ConfigureAwait(false);
        if ((await MissingDdlAsync(conn, tx, table, ct).ConfigureAwait(false)).Count == 0)
        {
            await tx.CommitAsync(ct).ConfigureAwait(false);
            return;
        }
        // CREATE ... IF NOT EXISTS is not race-free (two sessions can both pass the check and one fails on
        // the catalog's unique index), hence the lock; one fixed key for every store, so all of Bouncer's
        // DDL runs one at a time. It waits without a limit: the holder is another instance's DDL, itself bounded.
        await ExecuteDdlAsync(conn, tx, "SELECT pg_advisory_xact_lock(7235019470236119001)", ct).ConfigureAwait(false);
        await ExecuteDdlAsync(conn, tx, $"SET LOCAL lock_timeout = '{DdlLockTimeout}'", ct).ConfigureAwait(false);
        // Read again under the lock: the instance that held it may have created everything.
        foreach (var ddl in await MissingDdlAsync(conn, tx, table, ct).ConfigureAwait(false))
            await ExecuteDdlAsync(conn, tx, ddl, ct).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
    }

    private static async Task<List<string>> MissingDdlAsync(NpgsqlConnection conn, NpgsqlTransaction tx, PostgresTableSchema table, CancellationToken ct)
    {
        // pg_catalog rather than information_schema: the latter hides what the role holds no privilege on.
        await using var cmd = new NpgsqlCommand("""
            SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1),
                   EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2),
                   ARRAY(SELECT a.attname::text FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                         JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped),
                   ARRAY(SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 AND tablename = $2)
            """, conn, tx);
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = table.Schema });
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = table.Table });
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        await reader.ReadAsync(ct).ConfigureAwait(false);
        var schemaExists = reader.GetBoolean(0);
        var tableExists = reader.GetBoolean(1);
        var columns = reader.GetFieldValue<string[]>(2);
        var indexes = reader.GetFieldValue<string[]>(3);
        var missing = new List<string>();
        if (!schemaExists) missing.Add($"CREATE SCHEMA IF NOT EXISTS \"{table.Schema}\"");
        // A new table has every column already; an existing one may predate some.
        if (!tableExists) missing.Add(table.CreateTable);
        else missing.AddRange(table.AddedColumns.Where(c => !columns.Contains(c.Name)).Select(c => c.Sql));
        missing.AddRange(table.Indexes.Where(i => !indexes.Contains(i.Name)).Select(i => i.Sql));
        return missing;
    }

    private static async Task ExecuteDdlAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string sql, CancellationToken ct)
    {
        // No command timeout: a CREATE INDEX on a large table during an upgrade takes as long as it takes; the
        // store's few-second timeout is for requests. lock_timeout bounds the wait that would block traffic.
        await using var cmd = new NpgsqlCommand(sql, conn, tx) { CommandTimeout = 0 };
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Runs one write; rows affected. Not retried: a write whose reply was lost may have committed.</summary>
    public static async Task<int> ExecuteAsync(NpgsqlDataSource dataSource, bool prepare, string sql, NpgsqlParameter[] parameters, CancellationToken ct)
    {
        try
        {
            await using var conn = await dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
            await using var cmd = new NpgsqlCommand(sql, conn);
            cmd.Parameters.AddRange(parameters);
            if (prepare) await cmd.PrepareAsync(ct).ConfigureAwait(false);
            return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        catch (NpgsqlException e) when (IsConnectionFault(e))
        {
            // The pool's other idle connections are as dead as this one: drop them so the caller's retry dials afresh.
            dataSource.Clear();
            throw;
        }
    }

    /// <summary>
    /// Runs one statement and reads every row with <paramref name="read"/>. With <paramref name="retry"/>
    /// (statements that change nothing) a connection fault clears the pool and the statement runs once
    /// more; otherwise the pool is cleared and the fault reaches the caller.
    /// </summary>
    public static async Task<List<T>> QueryAsync<T>(
        NpgsqlDataSource dataSource, bool prepare, string sql, NpgsqlParameter[] parameters, Func<NpgsqlDataReader, T> read, bool retry, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await using var conn = await dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
                await using var cmd = new NpgsqlCommand(sql, conn);
                // A parameter belongs to one command: a retry gets copies.
                foreach (var p in parameters) cmd.Parameters.Add(attempt == 0 ? p : p.Clone());
                if (prepare) await cmd.PrepareAsync(ct).ConfigureAwait(false);
                await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
                var rows = new List<T>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false)) rows.Add(read(reader));
                return rows;
            }
            catch (NpgsqlException e) when (IsConnectionFault(e))
            {
                dataSource.Clear();
                if (!retry || attempt > 0) throw;
            }
        }
    }

    /// <summary>
    /// A connection fault: the server going away or not yet back (57P01-57P03: admin shutdown, crash
    /// shutdown, cannot connect now), or transient I/O on a dead or refused socket. A timeout is transient
    /// too but says nothing about the pool's other connections, and a retry would only double the wait:
    /// it is neither cleared nor retried.
    /// </summary>
    public static bool IsConnectionFault(NpgsqlException e) => e switch
    {
        PostgresException p => p.SqlState is "57P01" or "57P02" or "57P03",
        _ => e.IsTransient && e.InnerException is not TimeoutException,
    };

    /// <summary>A text parameter; null binds SQL NULL.</summary>
    public static NpgsqlParameter Text(string? value) =>
        new() { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)value ?? DBNull.Value };

    /// <summary>An integer parameter.</summary>
    public static NpgsqlParameter Int(int value) => new NpgsqlParameter<int> { TypedValue = value };

    /// <summary>A boolean parameter.</summary>
    public static NpgsqlParameter Bool(bool value) => new NpgsqlParameter<bool> { TypedValue = value };

    /// <summary>A bigint parameter.</summary>
    public static NpgsqlParameter Long(long value) => new NpgsqlParameter<long> { TypedValue = value };

    /// <summary>A timestamptz parameter, sent as UTC: Npgsql writes a DateTimeOffset to timestamptz only when its offset is zero.</summary>
    public static NpgsqlParameter Instant(DateTimeOffset value) =>
        new NpgsqlParameter<DateTimeOffset> { NpgsqlDbType = NpgsqlDbType.TimestampTz, TypedValue = value.ToUniversalTime() };

    /// <summary>A nullable timestamptz parameter; null binds SQL NULL.</summary>
    public static NpgsqlParameter Instant(DateTimeOffset? value) =>
        value is { } v ? Instant(v) : new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = DBNull.Value };

    /// <summary>A nullable timestamptz column as UTC.</summary>
    public static DateTimeOffset? NullableInstant(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<DateTimeOffset>(ordinal);
}
