using Bouncer.Diagnostics;
using Npgsql;
using static Bouncer.Stores.Postgres.PostgresStatements;

namespace Bouncer.Stores.Postgres;

/// <summary>
/// An <see cref="IAuditStore"/> over PostgreSQL: one row per event in <c>bouncer_audit</c>. Each operation is one
/// statement.
/// </summary>
/// <remarks>
/// Thread-safe: each call takes its own pooled connection. The <c>bigserial</c> id orders events of the same instant
/// by insertion. Indexed by <c>(subject, at)</c> for one user's trail and by <c>at</c> for the whole log and the
/// sweep. On a connection fault the pool is cleared; <see cref="ListAsync"/> is retried once, writes are not.
/// </remarks>
public sealed class PostgresAuditStore : IAuditStore
{
    /// <summary>The table's name inside <see cref="PostgresStoreOptions.Schema"/>.</summary>
    public const string TableName = "bouncer_audit";

    private const string Columns = "kind, at, actor, subject, target, reason, client_address, user_agent";

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _prepare;
    private readonly PostgresStoreOptions _options;
    private readonly string _insert, _listAll, _listSubject, _sweep;

    /// <summary>A store over <paramref name="dataSource"/>, which the caller keeps owning (and disposes).</summary>
    /// <exception cref="ArgumentException">The schema name in <paramref name="options"/> is not a plain identifier.</exception>
    public PostgresAuditStore(NpgsqlDataSource dataSource, PostgresStoreOptions? options = null)
    {
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _options = options ?? new PostgresStoreOptions();
        _options.Validate();
        _prepare = _options.PreparedStatements && CanPrepare(dataSource);
        var table = $"\"{_options.Schema}\".\"{TableName}\"";
        _insert = $"INSERT INTO {table} ({Columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        _listAll = $"SELECT {Columns} FROM {table} ORDER BY at DESC, id DESC LIMIT $1";
        _listSubject = $"SELECT {Columns} FROM {table} WHERE subject = $2 ORDER BY at DESC, id DESC LIMIT $1";
        // ARRAY(...) runs the LIMITed subquery exactly once; SKIP LOCKED lets concurrent sweeps take different rows.
        _sweep = $"""
            DELETE FROM {table} WHERE id = ANY(ARRAY(
                SELECT id FROM {table} WHERE at < $1 ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED))
            """;
    }

    /// <summary>The schema this store uses.</summary>
    public PostgresStoreOptions Options => _options;

    /// <summary>
    /// Creates the schema (when missing), the table and its indexes when missing; safe to call from many
    /// processes at once. Reads the catalogs first: needs CREATE only for a missing table, ownership only to add a missing
    /// column or index (docs/postgres.md); otherwise run <see cref="SchemaSql"/> as an administrator.
    /// </summary>
    public Task EnsureSchemaAsync(CancellationToken ct = default) =>
        PostgresStatements.EnsureSchemaAsync(_dataSource, TableSchema(_options), ct);

    /// <summary>The CREATE TABLE and CREATE INDEX statements for <paramref name="options"/> (idempotent).</summary>
    public static string SchemaSql(PostgresStoreOptions options) => TableSchema(options).ToSql();

    private static PostgresTableSchema TableSchema(PostgresStoreOptions options)
    {
        options.Validate();
        var table = $"\"{options.Schema}\".\"{TableName}\"";
        return new(options.Schema, TableName, $"""
            CREATE TABLE IF NOT EXISTS {table} (
                id bigserial PRIMARY KEY,
                at timestamptz NOT NULL,
                kind integer NOT NULL,
                actor text,
                subject text,
                target text,
                reason text NOT NULL,
                client_address text,
                user_agent text
            );
            """,
            [],
            [
                ($"{TableName}_subject_at", $"CREATE INDEX IF NOT EXISTS \"{TableName}_subject_at\" ON {table} (subject, at);"),
                ($"{TableName}_at", $"CREATE INDEX IF NOT EXISTS \"{TableName}_at\" ON {table} (at);"),
            ]);
    }

    /// <inheritdoc/>
    public async ValueTask AppendAsync(AuditEvent auditEvent, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        var e = auditEvent;
        NpgsqlParameter[] p =
        [
            Int((int)e.Kind), Instant(e.At), Text(e.Actor), Text(e.Subject), Text(e.Target), Text(e.Reason ?? ""),
            Text(e.ClientAddress), Text(e.UserAgent),
        ];
        await ExecuteAsync(_dataSource, _prepare, _insert, p, ct).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<AuditEvent>> ListAsync(string? subject, int limit, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 0);
        if (limit == 0) return [];
        return subject is null
            ? await QueryAsync(_dataSource, _prepare, _listAll, [Int(limit)], ReadEvent, retry: true, ct).ConfigureAwait(false)
            : await QueryAsync(_dataSource, _prepare, _listSubject, [Int(limit), Text(subject)], ReadEvent, retry: true, ct).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<int> SweepAsync(DateTimeOffset before, int batchSize, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return await ExecuteAsync(_dataSource, _prepare, _sweep, [Instant(before), Int(batchSize)], ct).ConfigureAwait(false);
    }

    // Column order is Columns.
    private static AuditEvent ReadEvent(NpgsqlDataReader r) => new(
        (AuditEventKind)r.GetInt32(0),
        r.GetFieldValue<DateTimeOffset>(1),
        r.IsDBNull(2) ? null : r.GetString(2),
        r.IsDBNull(3) ? null : r.GetString(3),
        r.IsDBNull(4) ? null : r.GetString(4),
        r.GetString(5),
        r.IsDBNull(6) ? null : r.GetString(6),
        r.IsDBNull(7) ? null : r.GetString(7));
}
