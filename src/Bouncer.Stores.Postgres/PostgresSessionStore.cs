using Bouncer.Sessions;
using Npgsql;
using NpgsqlTypes;
using static Bouncer.Stores.Postgres.PostgresStatements;

namespace Bouncer.Stores.Postgres;

/// <summary>
/// An <see cref="ISessionStore"/> over PostgreSQL (Npgsql). One row per session, keyed by the 32-byte
/// SHA-256 of the session id; every change is one statement, so each is atomic on its own.
/// </summary>
/// <remarks>
/// <para>Thread-safe: every call takes its own pooled connection from the data source.</para>
/// <para>Statements are prepared on each physical connection the first time they run there (Npgsql keeps
/// them across pool returns), and values always travel as parameters, never in the SQL text.</para>
/// <para>Performance: every call rents a pooled connection and returns it. By default Npgsql resets a
/// returned connection, and because the connection holds prepared statements that reset is not one
/// <c>DISCARD ALL</c> but a handful of statements sent ahead of the next command on it, so every lookup
/// paid for them: measured (bench/results/store.md, 2026-11-23) at 0.55-0.65x the throughput of a raw
/// prepared <c>SELECT</c> with 32 callers and 3.5-7x its single-caller p50. The store leaves no session state
/// on a connection (no <c>SET</c>, no session-level advisory locks, no temporary tables; transactions
/// end before the connection goes back), so the data source this store builds from a connection string
/// turns the reset off (<c>No Reset On Close=true</c>). A data source passed in is used as configured:
/// give it <c>No Reset On Close=true</c> too when only Bouncer's stores (or other code that leaves no
/// session state) use it. Explicit preparation costs nothing per call once a connection has the
/// statement (measured equal to the raw prepared command), so it stays.</para>
/// <para>Failures: after a server restart the pool may still hold dead connections (Npgsql does not test
/// them before reuse). On a connection fault (an I/O error on a dead socket, or SQLSTATE 57P01-57P03; not
/// a timeout) the store clears the data source's pool, so the next call dials afresh; reads
/// (<see cref="GetAsync"/>, <see cref="ListUserAsync"/>) are then retried once, because repeating them
/// cannot change anything. Writes are not retried, since a write whose reply was lost may have committed
/// (a retried rotate would report a lost race it actually won): the transient <see cref="NpgsqlException"/>
/// reaches the caller, whose retry then runs on a fresh connection.</para>
/// </remarks>
/// <example>
/// <code>
/// await using var store = new PostgresSessionStore("Host=db;Database=app;Username=app");
/// await store.EnsureSchemaAsync(ct);     // or run the DDL in docs/postgres.md yourself
/// var sessions = new SessionManager(store, TimeProvider.System);
/// </code>
/// </example>
public sealed class PostgresSessionStore : ISessionStore, IAsyncDisposable, IDisposable
{
    private const string Columns = "id, user_id, data, client, created_at, last_seen_at, expires_at, absolute_expires_at";

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;
    private readonly bool _prepare;
    private readonly PostgresSessionStoreOptions _options;
    private readonly string _table;
    private readonly string _get, _insert, _update, _touch, _rotate, _delete, _deleteUser, _listUser, _sweep;

    /// <summary>
    /// A store over an existing data source, which the caller keeps owning (and disposes).
    /// </summary>
    /// <exception cref="ArgumentException">The schema or table name in <paramref name="options"/> is not a plain identifier.</exception>
    public PostgresSessionStore(NpgsqlDataSource dataSource, PostgresSessionStoreOptions? options = null)
        : this(dataSource ?? throw new ArgumentNullException(nameof(dataSource)), ownsDataSource: false, options)
    {
    }

    /// <summary>
    /// A store that builds (and on dispose releases) its own pooled data source from
    /// <paramref name="connectionString"/>, with <c>No Reset On Close=true</c> (see the remarks on the type).
    /// </summary>
    /// <exception cref="ArgumentException">Bad connection string, schema or table name.</exception>
    public PostgresSessionStore(string connectionString, PostgresSessionStoreOptions? options = null)
        : this(PostgresDataSources.Create(connectionString ?? throw new ArgumentNullException(nameof(connectionString))), ownsDataSource: true, options)
    {
    }

    private PostgresSessionStore(NpgsqlDataSource dataSource, bool ownsDataSource, PostgresSessionStoreOptions? options)
    {
        _options = options ?? new PostgresSessionStoreOptions();
        try
        {
            _options.Validate();
        }
        catch when (ownsDataSource)
        {
            dataSource.Dispose();
            throw;
        }
        _dataSource = dataSource;
        _ownsDataSource = ownsDataSource;
        // Multiplexing connections cannot prepare explicitly; there Npgsql's own auto-prepare (the
        // "Max Auto Prepare" setting) is the way to get prepared statements.
        _prepare = _options.PreparedStatements && CanPrepare(dataSource);
        _table = $"\"{_options.Schema}\".\"{_options.Table}\"";

        _get = $"SELECT {Columns} FROM {_table} WHERE id = $1";
        _insert = $"INSERT INTO {_table} ({Columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        // Matched by key and user, so an update can never move a session to another user; created_at
        // and absolute_expires_at are left alone: nothing extends the absolute deadline.
        _update = $"UPDATE {_table} SET data = $3, client = $4, last_seen_at = $5, expires_at = $6 WHERE id = $1 AND user_id = $2";
        _touch = $"UPDATE {_table} SET last_seen_at = $3, expires_at = $4 WHERE id = $1 AND user_id = $2";
        // One statement: the insert draws its single row from what the delete returned, so it inserts
        // nothing when the old row is gone. Two racing rotations both try to delete the row; the second
        // waits on the row lock, then finds it deleted (READ COMMITTED re-check) and inserts nothing.
        // A key collision on the insert aborts the whole statement, delete included.
        _rotate = $"""
            WITH old AS (DELETE FROM {_table} WHERE id = $1 RETURNING id)
            INSERT INTO {_table} ({Columns})
            SELECT $2, $3, $4, $5, $6, $7, $8, $9 FROM old
            """;
        _delete = $"DELETE FROM {_table} WHERE id = $1";
        _deleteUser = $"DELETE FROM {_table} WHERE user_id = $1";
        _listUser = $"SELECT {Columns} FROM {_table} WHERE user_id = $1";
        // One short batch: ARRAY(...) runs the LIMITed subquery exactly once (an IN (subquery) may be
        // re-run by a nested-loop plan and delete more than the batch). SKIP LOCKED passes over rows a
        // concurrent update holds, and FOR UPDATE re-checks expires_at against the committed row, so a
        // session renewed meanwhile is not swept. Plain reads take no row locks and are never blocked.
        _sweep = $"""
            DELETE FROM {_table} WHERE id = ANY(ARRAY(
                SELECT id FROM {_table} WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED))
            """;
    }

    /// <summary>The schema and table this store uses.</summary>
    public PostgresSessionStoreOptions Options => _options;

    /// <summary>
    /// Creates the schema (when missing), the table and its indexes when missing; safe to call from many
    /// processes at once (serialised by a transaction-scoped advisory lock). Reads the catalogs first: needs CREATE
    /// only for a missing table, ownership only to add a missing index; otherwise run the DDL from docs/postgres.md
    /// as an administrator instead.
    /// </summary>
    public Task EnsureSchemaAsync(CancellationToken ct = default) =>
        PostgresStatements.EnsureSchemaAsync(_dataSource, TableSchema(_options), ct);

    /// <summary>The CREATE TABLE and CREATE INDEX statements for <paramref name="options"/> (idempotent).</summary>
    public static string SchemaSql(PostgresSessionStoreOptions options) => TableSchema(options).ToSql();

    private static PostgresTableSchema TableSchema(PostgresSessionStoreOptions options)
    {
        options.Validate();
        var table = $"\"{options.Schema}\".\"{options.Table}\"";
        // data is json, not jsonb: json keeps the text exactly as given (jsonb reorders keys, drops
        // whitespace and duplicate keys), and the contract promises data back byte for byte. The engine
        // already validated it as a JSON object; json still re-checks the syntax on insert. Query it
        // with data::jsonb ->> 'key' (an expression index works too).
        // id is the SHA-256 of the session id, never the id itself: a leaked table grants no session.
        return new(options.Schema, options.Table, $"""
            CREATE TABLE IF NOT EXISTS {table} (
                id bytea PRIMARY KEY CHECK (octet_length(id) = 32),
                user_id text NOT NULL,
                data json,
                client text,
                created_at timestamptz NOT NULL,
                last_seen_at timestamptz NOT NULL,
                expires_at timestamptz NOT NULL,
                absolute_expires_at timestamptz NOT NULL
            );
            """,
            [],
            [
                ($"{options.Table}_expires_at_idx", $"CREATE INDEX IF NOT EXISTS \"{options.Table}_expires_at_idx\" ON {table} (expires_at);"),
                ($"{options.Table}_user_id_idx", $"CREATE INDEX IF NOT EXISTS \"{options.Table}_user_id_idx\" ON {table} (user_id);"),
            ]);
    }

    /// <inheritdoc/>
    public async ValueTask<SessionRecord?> GetAsync(SessionKey key, CancellationToken ct)
    {
        // A read: after a connection fault (a dead pooled connection after a restart) it runs once more.
        var rows = await QueryAsync(_dataSource, _prepare, _get, [KeyParameter(key)], ReadRecord, retry: true, ct).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <inheritdoc/>
    public async ValueTask CreateAsync(SessionRecord record, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(record);
        try
        {
            await ExecuteAsync(_dataSource, _prepare, _insert, RecordParameters(record), ct).ConfigureAwait(false);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw new SessionKeyCollisionException();
        }
    }

    /// <inheritdoc/>
    public async ValueTask<bool> UpdateAsync(SessionRecord record, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(record);
        NpgsqlParameter[] p =
        [
            KeyParameter(record.Key), Text(record.UserId), Json(record.Data), Text(record.Client),
            Instant(record.LastSeenAt), Instant(record.ExpiresAt),
        ];
        return await ExecuteAsync(_dataSource, _prepare, _update, p, ct).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> TouchAsync(SessionRecord record, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(record);
        NpgsqlParameter[] p = [KeyParameter(record.Key), Text(record.UserId), Instant(record.LastSeenAt), Instant(record.ExpiresAt)];
        return await ExecuteAsync(_dataSource, _prepare, _touch, p, ct).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> RotateAsync(SessionKey oldKey, SessionRecord next, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(next);
        try
        {
            return await ExecuteAsync(_dataSource, _prepare, _rotate, [KeyParameter(oldKey), .. RecordParameters(next)], ct).ConfigureAwait(false) == 1;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw new SessionKeyCollisionException();
        }
    }

    /// <inheritdoc/>
    public async ValueTask<bool> DeleteAsync(SessionKey key, CancellationToken ct) =>
        await ExecuteAsync(_dataSource, _prepare, _delete, [KeyParameter(key)], ct).ConfigureAwait(false) == 1;

    /// <inheritdoc/>
    public async ValueTask<int> DeleteUserAsync(string userId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return await ExecuteAsync(_dataSource, _prepare, _deleteUser, [Text(userId)], ct).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<SessionRecord>> ListUserAsync(string userId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return await QueryAsync(_dataSource, _prepare, _listUser, [Text(userId)], ReadRecord, retry: true, ct).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        return await ExecuteAsync(_dataSource, _prepare, _sweep, [Instant(now), Int(batchSize)], ct).ConfigureAwait(false);
    }

    /// <summary>Disposes the data source when this store built it; a data source passed in is left alone.</summary>
    public ValueTask DisposeAsync() => _ownsDataSource ? _dataSource.DisposeAsync() : ValueTask.CompletedTask;

    /// <inheritdoc cref="DisposeAsync"/>
    public void Dispose()
    {
        if (_ownsDataSource) _dataSource.Dispose();
    }

    private static NpgsqlParameter[] RecordParameters(SessionRecord r) =>
    [
        KeyParameter(r.Key), Text(r.UserId), Json(r.Data), Text(r.Client),
        Instant(r.CreatedAt), Instant(r.LastSeenAt), Instant(r.ExpiresAt), Instant(r.AbsoluteExpiresAt),
    ];

    private static SessionRecord ReadRecord(NpgsqlDataReader reader)
    {
        // Column order is Columns: id, user_id, data, client, created_at, last_seen_at, expires_at, absolute_expires_at.
        var id = reader.GetFieldValue<byte[]>(0);
        return new SessionRecord
        {
            Key = new SessionKey(id),
            UserId = reader.GetString(1),
            Data = reader.IsDBNull(2) ? null : reader.GetString(2),
            Client = reader.IsDBNull(3) ? null : reader.GetString(3),
            // Npgsql reads timestamptz as a UTC DateTimeOffset; microsecond storage keeps whole milliseconds exact.
            CreatedAt = reader.GetFieldValue<DateTimeOffset>(4),
            LastSeenAt = reader.GetFieldValue<DateTimeOffset>(5),
            ExpiresAt = reader.GetFieldValue<DateTimeOffset>(6),
            AbsoluteExpiresAt = reader.GetFieldValue<DateTimeOffset>(7),
        };
    }

    private static NpgsqlParameter KeyParameter(SessionKey key) =>
        new NpgsqlParameter<byte[]> { NpgsqlDbType = NpgsqlDbType.Bytea, TypedValue = key.ToArray() };

    // Sent as json (not text) so the server parses it as json without a cast and keeps the text verbatim.
    private static NpgsqlParameter Json(string? value) =>
        new() { NpgsqlDbType = NpgsqlDbType.Json, Value = (object?)value ?? DBNull.Value };
}

