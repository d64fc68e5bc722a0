using Bouncer.Refresh;
using Npgsql;
using static Bouncer.Stores.Postgres.PostgresStatements;

namespace Bouncer.Stores.Postgres;

/// <summary>
/// An <see cref="IRefreshTokenStore"/> over PostgreSQL: one row per refresh token in
/// <c>bouncer_refresh_tokens</c>, keyed by the token's hash. Every operation is one statement, so each is
/// atomic on its own; <see cref="RotateAsync"/> marks and inserts in that one statement.
/// </summary>
/// <remarks>
/// Thread-safe: each call takes its own pooled connection. Statements are prepared once per physical
/// connection. Faults follow <see cref="PostgresSessionStore"/>: on a connection fault the pool is cleared;
/// <see cref="GetAsync"/> is then retried once, writes are not (a write whose reply was lost may have committed).
/// </remarks>
public sealed class PostgresRefreshTokenStore : IRefreshTokenStore
{
    /// <summary>The table's name inside <see cref="PostgresStoreOptions.Schema"/>.</summary>
    public const string TableName = "bouncer_refresh_tokens";

    private const string Columns = "token_hash, family_id, user_id, generation, issued_at, expires_at, family_expires_at, rotated_at, scope, revoked, auth_time, dpop_jkt, client";

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _prepare;
    private readonly PostgresStoreOptions _options;
    private readonly string _insert, _get, _rotate, _revokeFamily, _revokeUser, _sweep;

    /// <summary>A store over <paramref name="dataSource"/>, which the caller keeps owning (and disposes).</summary>
    /// <exception cref="ArgumentException">The schema name in <paramref name="options"/> is not a plain identifier.</exception>
    public PostgresRefreshTokenStore(NpgsqlDataSource dataSource, PostgresStoreOptions? options = null)
    {
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _options = options ?? new PostgresStoreOptions();
        _options.Validate();
        _prepare = _options.PreparedStatements && CanPrepare(dataSource);
        var table = $"\"{_options.Schema}\".\"{TableName}\"";

        _insert = $"INSERT INTO {table} ({Columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
        _get = $"SELECT {Columns} FROM {table} WHERE token_hash = $1";
        // One statement: the insert draws its single row from what the update returned, so nothing is
        // inserted unless this call flipped rotated_at. Racing rotations all try to update the row; the
        // first takes the row lock, the others wait, then re-check the WHERE against the committed row
        // (READ COMMITTED re-evaluation), find rotated_at set and update and insert nothing: one winner.
        // A successor-hash collision aborts the whole statement, the update included.
        _rotate = $"""
            WITH cur AS (
                UPDATE {table} SET rotated_at = $2 WHERE token_hash = $1 AND rotated_at IS NULL AND NOT revoked RETURNING 1)
            INSERT INTO {table} ({Columns})
            SELECT $3, $4, $5, $6, $7, $8, $9, NULL, $10, false, $11, $12, $13 WHERE EXISTS (SELECT 1 FROM cur)
            """;
        _revokeFamily = $"UPDATE {table} SET revoked = true WHERE family_id = $1 AND NOT revoked";
        _revokeUser = $"""
            WITH hit AS (UPDATE {table} SET revoked = true WHERE user_id = $1 AND NOT revoked RETURNING family_id)
            SELECT DISTINCT family_id FROM hit
            """;
        // A token is dead once either limit passes; the service caps expires_at at family_expires_at, but the
        // store does not rely on it: the index is on the earlier of the two, and the filter names the same
        // expression so it uses it. ARRAY(...) runs the LIMITed subquery exactly once, SKIP LOCKED passes
        // over rows a concurrent rotation or revocation holds (a later batch takes them).
        _sweep = $"""
            DELETE FROM {table} WHERE token_hash = ANY(ARRAY(
                SELECT token_hash FROM {table} WHERE least(expires_at, family_expires_at) <= $1
                ORDER BY least(expires_at, family_expires_at) LIMIT $2 FOR UPDATE SKIP LOCKED))
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
        // token_hash is base64url SHA-256 of the token, never the token: a leaked table grants nothing.
        // auth_time: added to tables created before it was kept; NULL in their old rows, which then read
        // AuthTime as IssuedAt (RefreshRecord.AuthTime: the family's start is unknown). dpop_jkt likewise: NULL is an
        // unbound family (RFC 9449 5), as every family was before it was kept.
        // family_id: revoke a family; user_id: revoke a user; the expiry expression: sweep.
        return new(options.Schema, TableName, $"""
            CREATE TABLE IF NOT EXISTS {table} (
                token_hash text PRIMARY KEY,
                family_id text NOT NULL,
                user_id text NOT NULL,
                generation integer NOT NULL,
                issued_at timestamptz NOT NULL,
                expires_at timestamptz NOT NULL,
                family_expires_at timestamptz NOT NULL,
                rotated_at timestamptz,
                scope text,
                revoked boolean NOT NULL DEFAULT false,
                auth_time timestamptz,
                dpop_jkt text,
                client text
            );
            """,
            [
                ("auth_time", $"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS auth_time timestamptz;"),
                ("dpop_jkt", $"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS dpop_jkt text;"),
                ("client", $"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS client text;"),
            ],
            [
                ($"{TableName}_family_id_idx", $"CREATE INDEX IF NOT EXISTS \"{TableName}_family_id_idx\" ON {table} (family_id);"),
                ($"{TableName}_user_id_idx", $"CREATE INDEX IF NOT EXISTS \"{TableName}_user_id_idx\" ON {table} (user_id);"),
                ($"{TableName}_expiry_idx", $"CREATE INDEX IF NOT EXISTS \"{TableName}_expiry_idx\" ON {table} (least(expires_at, family_expires_at));"),
            ]);
    }

    /// <inheritdoc/>
    public async ValueTask CreateAsync(RefreshRecord record, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(record);
        NpgsqlParameter[] p =
        [
            Text(record.TokenHash), Text(record.FamilyId), Text(record.UserId), Int(record.Generation),
            Instant(record.IssuedAt), Instant(record.ExpiresAt), Instant(record.FamilyExpiresAt),
            Instant(record.RotatedAt), Text(record.Scope), new NpgsqlParameter<bool> { TypedValue = record.Revoked },
            Instant(record.AuthTime), Text(record.DpopJkt), Text(record.Client),
        ];
        try
        {
            await ExecuteAsync(_dataSource, _prepare, _insert, p, ct).ConfigureAwait(false);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw new InvalidOperationException("A refresh token with this hash exists.", e);
        }
    }

    /// <inheritdoc/>
    public async ValueTask<RefreshRecord?> GetAsync(string tokenHash, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tokenHash);
        var rows = await QueryAsync(_dataSource, _prepare, _get, [Text(tokenHash)], ReadRecord, retry: true, ct).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <inheritdoc/>
    public async ValueTask<bool> RotateAsync(string currentHash, DateTimeOffset rotatedAt, RefreshRecord successor, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(currentHash);
        ArgumentNullException.ThrowIfNull(successor);
        NpgsqlParameter[] p =
        [
            Text(currentHash), Instant(rotatedAt),
            Text(successor.TokenHash), Text(successor.FamilyId), Text(successor.UserId), Int(successor.Generation),
            Instant(successor.IssuedAt), Instant(successor.ExpiresAt), Instant(successor.FamilyExpiresAt), Text(successor.Scope),
            Instant(successor.AuthTime), Text(successor.DpopJkt), Text(successor.Client),
        ];
        try
        {
            return await ExecuteAsync(_dataSource, _prepare, _rotate, p, ct).ConfigureAwait(false) == 1;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            // The successor's hash is taken: the statement rolled back whole, so nothing changed, which the
            // contract reports as false (as the in-memory store does).
            return false;
        }
    }

    /// <inheritdoc/>
    public async ValueTask<int> RevokeFamilyAsync(string familyId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(familyId);
        // Repeated until a pass changes nothing. A rotation racing the revocation inserts its successor
        // in a transaction the revoking statement's snapshot cannot see: the statement waits for the
        // rotated row's lock, re-checks that row, but never sees the new one, which would stay live. The
        // next pass runs with a fresh snapshot and catches it; once a pass finds nothing, every row of the
        // family is revoked and a rotation can no longer pass its NOT revoked check.
        var total = 0;
        int n;
        while ((n = await ExecuteAsync(_dataSource, _prepare, _revokeFamily, [Text(familyId)], ct).ConfigureAwait(false)) > 0) total += n;
        return total;
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<string>> RevokeUserAsync(string userId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(userId);
        // A write: never retried on a fault, the families it revoked would be reported as none on a second
        // run. Repeated until a pass finds nothing, for the reason given in RevokeFamilyAsync.
        var families = new List<string>();
        while (true)
        {
            var pass = await QueryAsync(_dataSource, _prepare, _revokeUser, [Text(userId)], r => r.GetString(0), retry: false, ct).ConfigureAwait(false);
            if (pass.Count == 0) return families;
            foreach (var f in pass) if (!families.Contains(f)) families.Add(f);
        }
    }

    /// <inheritdoc/>
    public async ValueTask<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        return await ExecuteAsync(_dataSource, _prepare, _sweep, [Instant(now), Int(batchSize)], ct).ConfigureAwait(false);
    }

    private static RefreshRecord ReadRecord(NpgsqlDataReader r)
    {
        var record = ReadColumns(r);
        // NULL: a row written before the column existed; AuthTime then reads as IssuedAt.
        if (NullableInstant(r, 10) is { } authTime) record = record with { AuthTime = authTime };
        // NULL: an unbound family, or a row written before the column existed.
        if (!r.IsDBNull(11)) record = record with { DpopJkt = r.GetString(11) };
        // NULL: a row written outside a request, or before the column existed.
        return r.IsDBNull(12) ? record : record with { Client = r.GetString(12) };
    }

    private static RefreshRecord ReadColumns(NpgsqlDataReader r) => new()
    {
        // Column order is Columns.
        TokenHash = r.GetString(0),
        FamilyId = r.GetString(1),
        UserId = r.GetString(2),
        Generation = r.GetInt32(3),
        IssuedAt = r.GetFieldValue<DateTimeOffset>(4),
        ExpiresAt = r.GetFieldValue<DateTimeOffset>(5),
        FamilyExpiresAt = r.GetFieldValue<DateTimeOffset>(6),
        RotatedAt = NullableInstant(r, 7),
        Scope = r.IsDBNull(8) ? null : r.GetString(8),
        Revoked = r.GetBoolean(9),
    };
}
