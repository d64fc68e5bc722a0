using Bouncer.Refresh;
using Microsoft.Data.Sqlite;

namespace Bouncer.Stores.Sqlite;

/// <summary>
/// An <see cref="IRefreshTokenStore"/> in one SQLite database file (the same file as the sessions may be
/// used): durable across restarts and crashes, shareable by several processes on the same machine.
/// </summary>
/// <remarks>
/// <para>Only token hashes are stored: the primary key is <see cref="RefreshRecord.TokenHash"/>, the token
/// itself never reaches the file. Instants are unix milliseconds.</para>
/// <para>Thread-safe. WAL mode with <c>synchronous=FULL</c>; writes queue on one writer connection, reads run
/// on pooled readers. <see cref="RotateAsync"/> is one <c>BEGIN IMMEDIATE</c> transaction, so of many racing
/// rotations (threads or processes) exactly one wins.</para>
/// <para>A missing, unreadable or corrupt file throws <see cref="SqliteStoreException"/> naming the path.</para>
/// </remarks>
/// <example>
/// <code>
/// using var store = new SqliteRefreshTokenStore("/var/lib/myapp/bouncer.db");
/// var refresh = new RefreshTokenService(store, channel, TimeProvider.System, options);
/// </code>
/// </example>
public sealed class SqliteRefreshTokenStore : IRefreshTokenStore, IDisposable
{
    /// <summary>Table used when none is named.</summary>
    public const string DefaultTableName = "bouncer_refresh_tokens";

    private const int PrimaryKeyViolation = 1555;   // SQLITE_CONSTRAINT_PRIMARYKEY
    private const int UniqueViolation = 2067;       // SQLITE_CONSTRAINT_UNIQUE

    private readonly SqliteDatabase _db;
    private readonly bool _ownsDatabase;
    private readonly string _table;
    private readonly string _insert, _get, _rotate, _revokeFamily, _revokeUser, _sweep;

    /// <summary>Opens (creating if needed) the database and its table in WAL mode.</summary>
    /// <param name="pathOrConnectionString">A file path, or a Microsoft.Data.Sqlite connection string
    /// starting with <c>Data Source=</c> (or <c>DataSource=</c>, <c>Filename=</c>).</param>
    /// <param name="tableName">Letters, digits and underscores, not starting with a digit, at most 63 chars.</param>
    /// <exception cref="ArgumentException">Bad table name, or an in-memory database.</exception>
    /// <exception cref="SqliteStoreException">The file cannot be opened or is not a SQLite database.</exception>
    public SqliteRefreshTokenStore(string pathOrConnectionString, string tableName = DefaultTableName)
        : this(new SqliteDatabase(pathOrConnectionString), tableName, ownsDatabase: true)
    {
    }

    internal SqliteRefreshTokenStore(SqliteDatabase db, string tableName, bool ownsDatabase)
    {
        SqliteDatabase.CheckTableName(tableName, nameof(tableName));
        _db = db;
        _ownsDatabase = ownsDatabase;
        _table = tableName;
        const string columns = "token_hash, family_id, user_id, generation, issued_at, expires_at, family_expires_at, rotated_at, scope, revoked, auth_time, dpop_jkt, client";
        _insert = $"""INSERT INTO "{_table}" ({columns}) VALUES ($p0, $p1, $p2, $p3, $p4, $p5, $p6, $p7, $p8, $p9, $p10, $p11, $p12)""";
        _get = $"""SELECT {columns} FROM "{_table}" WHERE token_hash = $p0""";
        // The conditions make the update itself the check: only a current, unrevoked token changes, so the
        // number of changed rows says whether this caller won.
        _rotate = $"""UPDATE "{_table}" SET rotated_at = $p1 WHERE token_hash = $p0 AND rotated_at IS NULL AND revoked = 0""";
        _revokeFamily = $"""UPDATE "{_table}" SET revoked = 1 WHERE family_id = $p0 AND revoked = 0""";
        _revokeUser = $"""UPDATE "{_table}" SET revoked = 1 WHERE user_id = $p0 AND revoked = 0 RETURNING family_id""";
        // A token is dead once either limit passes. An OR of the two columns cannot use one index (SQLite scanned
        // the table per batch), so the index is on the earlier of the two and the filter names the same
        // expression, as the PostgreSQL store does with least().
        _sweep = $"""DELETE FROM "{_table}" WHERE token_hash IN (SELECT token_hash FROM "{_table}" WHERE min(expires_at, family_expires_at) <= $p0 LIMIT $p1)""";
        try
        {
            _db.EnsureSchema($"""
                CREATE TABLE IF NOT EXISTS "{_table}" (
                    token_hash TEXT NOT NULL PRIMARY KEY,
                    family_id TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    generation INTEGER NOT NULL,
                    issued_at INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL,
                    family_expires_at INTEGER NOT NULL,
                    rotated_at INTEGER,
                    scope TEXT,
                    revoked INTEGER NOT NULL DEFAULT 0,
                    auth_time INTEGER,
                    dpop_jkt TEXT,
                    client TEXT
                ) WITHOUT ROWID;
                CREATE INDEX IF NOT EXISTS "{_table}_family_id" ON "{_table}" (family_id);
                CREATE INDEX IF NOT EXISTS "{_table}_user_id" ON "{_table}" (user_id);
                DROP INDEX IF EXISTS "{_table}_expires_at";
                CREATE INDEX IF NOT EXISTS "{_table}_dead_at" ON "{_table}" (min(expires_at, family_expires_at));
                """, AddMissingColumns);
        }
        catch when (ownsDatabase)
        {
            db.Dispose();
            throw;
        }
    }

    // A table created by an older version lacks later columns: each is added, NULL in the old rows. auth_time NULL
    // reads as IssuedAt (RefreshRecord.AuthTime: the family's start is unknown); dpop_jkt NULL is an unbound family.
    private void AddMissingColumns(SqliteConnection connection, SqliteTransaction tx)
    {
        AddColumn(connection, tx, "auth_time", "INTEGER");
        AddColumn(connection, tx, "dpop_jkt", "TEXT");
        AddColumn(connection, tx, "client", "TEXT");
    }

    private void AddColumn(SqliteConnection connection, SqliteTransaction tx, string column, string type)
    {
        using var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = $"""SELECT COUNT(*) FROM pragma_table_info('{_table}') WHERE name = '{column}'""";
        if (Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) != 0) return;
        cmd.CommandText = $"""ALTER TABLE "{_table}" ADD COLUMN {column} {type}""";
        cmd.ExecuteNonQuery();
    }

    /// <summary>Full path of the database file.</summary>
    public string DatabasePath => _db.DatabasePath;

    /// <summary>Name of the table holding the tokens.</summary>
    public string TableName => _table;

    /// <inheritdoc/>
    public async ValueTask CreateAsync(RefreshRecord record, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(record);
        var inserted = await _db.WriteAsync(c => Insert(c, record, null), ct).ConfigureAwait(false);
        if (!inserted) throw new InvalidOperationException("A refresh token with this hash exists.");
    }

    /// <inheritdoc/>
    public ValueTask<RefreshRecord?> GetAsync(string tokenHash, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tokenHash);
        return ValueTask.FromResult(_db.Read(c =>
        {
            using var reader = c.Command(_get, null, tokenHash).ExecuteReader();
            return reader.Read() ? ReadRecord(reader) : null;
        }, ct));
    }

    /// <inheritdoc/>
    public ValueTask<bool> RotateAsync(string currentHash, DateTimeOffset rotatedAt, RefreshRecord successor, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(currentHash);
        ArgumentNullException.ThrowIfNull(successor);
        return _db.WriteAsync(c =>
        {
            // BEGIN IMMEDIATE takes the write lock up front: a rotation in another process cannot run between
            // the check-and-mark and the insert, and the transaction never has to upgrade a read lock (which
            // in WAL fails with SQLITE_BUSY_SNAPSHOT instead of waiting).
            using var tx = c.Sqlite.BeginTransaction(deferred: false);
            if (c.Command(_rotate, tx, currentHash, rotatedAt.ToUnixTimeMilliseconds()).ExecuteNonQuery() != 1)
                return false;   // absent, already rotated or revoked: disposing tx rolls back (nothing written)
            // A successor hash that already exists means a broken caller; the rotation is then undone whole.
            if (!Insert(c, successor, tx)) return false;
            tx.Commit();
            return true;
        }, ct);
    }

    /// <inheritdoc/>
    public ValueTask<int> RevokeFamilyAsync(string familyId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(familyId);
        return _db.WriteAsync(c => c.Command(_revokeFamily, null, familyId).ExecuteNonQuery(), ct);
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<string>> RevokeUserAsync(string userId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return _db.WriteAsync<IReadOnlyList<string>>(c =>
        {
            // One statement is one transaction: the families reported are exactly the ones this call revoked.
            using var reader = c.Command(_revokeUser, null, userId).ExecuteReader();
            var families = new HashSet<string>(StringComparer.Ordinal);
            while (reader.Read()) families.Add(reader.GetString(0));
            return [.. families];
        }, ct);
    }

    /// <inheritdoc/>
    public ValueTask<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        // The LIMIT keeps each write transaction (and the WAL growth) bounded; readers keep their snapshot.
        return _db.WriteAsync(c => c.Command(_sweep, null, now.ToUnixTimeMilliseconds(), batchSize).ExecuteNonQuery(), ct);
    }

    /// <summary>Closes the connections (unless shared through <see cref="SqliteBouncerStores"/>). Later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (_ownsDatabase) _db.Dispose();
    }

    /// <summary>Inserts <paramref name="r"/>; false when its hash is taken.</summary>
    private bool Insert(SqliteDatabase.Connection c, RefreshRecord r, SqliteTransaction? tx)
    {
        try
        {
            c.Command(_insert, tx,
                r.TokenHash, r.FamilyId, r.UserId, r.Generation,
                r.IssuedAt.ToUnixTimeMilliseconds(), r.ExpiresAt.ToUnixTimeMilliseconds(), r.FamilyExpiresAt.ToUnixTimeMilliseconds(),
                r.RotatedAt?.ToUnixTimeMilliseconds(), r.Scope, r.Revoked ? 1 : 0, r.AuthTime.ToUnixTimeMilliseconds(), r.DpopJkt, r.Client).ExecuteNonQuery();
            return true;
        }
        catch (SqliteException ex) when (ex.SqliteExtendedErrorCode is PrimaryKeyViolation or UniqueViolation)
        {
            return false;
        }
    }

    private static RefreshRecord ReadRecord(SqliteDataReader r)
    {
        var record = ReadColumns(r);
        // NULL: a row written before the column existed; AuthTime then reads as IssuedAt.
        if (!r.IsDBNull(10)) record = record with { AuthTime = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(10)) };
        // NULL: an unbound family, or a row written before the column existed.
        if (!r.IsDBNull(11)) record = record with { DpopJkt = r.GetString(11) };
        // NULL: a row written outside a request, or before the column existed.
        return r.IsDBNull(12) ? record : record with { Client = r.GetString(12) };
    }

    private static RefreshRecord ReadColumns(SqliteDataReader r) => new()
    {
        TokenHash = r.GetString(0),
        FamilyId = r.GetString(1),
        UserId = r.GetString(2),
        Generation = r.GetInt32(3),
        IssuedAt = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)),
        ExpiresAt = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)),
        FamilyExpiresAt = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(6)),
        RotatedAt = r.IsDBNull(7) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(7)),
        Scope = r.IsDBNull(8) ? null : r.GetString(8),
        Revoked = r.GetInt64(9) != 0,
    };
}
