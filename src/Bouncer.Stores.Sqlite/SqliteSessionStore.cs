using Bouncer.Sessions;
using Microsoft.Data.Sqlite;

namespace Bouncer.Stores.Sqlite;

/// <summary>
/// An <see cref="ISessionStore"/> in one SQLite database file: the embedded default, durable across
/// restarts and crashes, shareable by several processes on the same machine.
/// </summary>
/// <remarks>
/// <para>The file runs in WAL mode with <c>synchronous=FULL</c>: a session whose create returned has
/// been fsynced and survives a crash or power loss, and readers never wait for the writer.</para>
/// <para>Thread-safe. Writes from this instance queue on one writer connection (SQLite admits one
/// writer at a time anyway); reads run in parallel on pooled reader connections. Writers in other
/// processes are waited for up to <see cref="BusyTimeout"/> instead of failing with SQLITE_BUSY.</para>
/// <para>A missing, unreadable or corrupt file throws <see cref="SqliteSessionStoreException"/> naming
/// the path; it never turns into an empty store.</para>
/// </remarks>
/// <example>
/// <code>
/// using var store = new SqliteSessionStore("/var/lib/myapp/sessions.db");
/// var sessions = new SessionManager(store, TimeProvider.System);
/// </code>
/// </example>
public sealed class SqliteSessionStore : ISessionStore, IDisposable
{
    /// <summary>Table used when none is named.</summary>
    public const string DefaultTableName = "bouncer_sessions";

    /// <summary>How long a write waits for another process's write lock before failing.</summary>
    public static readonly TimeSpan BusyTimeout = SqliteDatabase.BusyTimeout;

    private const int PrimaryKeyViolation = 1555;   // SQLITE_CONSTRAINT_PRIMARYKEY

    private const string Columns = "user_id, data, client, created_at, last_seen_at, expires_at, absolute_expires_at";

    private readonly SqliteDatabase _db;
    private readonly string _table;
    private readonly string _schema, _get, _insert, _update, _touch, _delete, _deleteUser, _listUser, _sweep;

    /// <summary>
    /// Opens (creating if needed) the database and its table, switches it to WAL mode and makes sure
    /// the schema exists.
    /// </summary>
    /// <param name="pathOrConnectionString">A file path, or a Microsoft.Data.Sqlite connection string
    /// starting with <c>Data Source=</c> (or <c>DataSource=</c>, <c>Filename=</c>).</param>
    /// <param name="tableName">Table to use: letters, digits and underscores, not starting with a digit,
    /// at most 63 chars. Several stores may share a file under different tables.</param>
    /// <exception cref="ArgumentException">Bad table name, or an in-memory database (use
    /// <see cref="MemorySessionStore"/>: WAL and durability need a file).</exception>
    /// <exception cref="SqliteSessionStoreException">The file cannot be opened, is not a SQLite
    /// database, or cannot be switched to WAL mode.</exception>
    public SqliteSessionStore(string pathOrConnectionString, string tableName = DefaultTableName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pathOrConnectionString);
        SqliteDatabase.CheckTableName(tableName, nameof(tableName));
        _db = new SqliteDatabase(pathOrConnectionString, "SQLite session store", static (message, inner) => new SqliteSessionStoreException(message, inner));
        _table = tableName;
        // The id is the 32-byte SHA-256 of the session id, never the id itself. WITHOUT ROWID stores rows
        // in the primary-key b-tree, so a lookup by id is one b-tree search instead of two.
        _schema = $"""
            CREATE TABLE IF NOT EXISTS "{tableName}" (
                id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 32),
                user_id TEXT NOT NULL,
                data TEXT,
                client TEXT,
                created_at INTEGER NOT NULL,
                last_seen_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                absolute_expires_at INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS "{tableName}_expires_at" ON "{tableName}" (expires_at);
            CREATE INDEX IF NOT EXISTS "{tableName}_user_id" ON "{tableName}" (user_id);
            """;
        _get = $"""SELECT {Columns} FROM "{tableName}" WHERE id = $p0""";
        _insert = $"""INSERT INTO "{tableName}" (id, {Columns}) VALUES ($p0, $p1, $p2, $p3, $p4, $p5, $p6, $p7)""";
        // Matching on user too means a stale or forged record can neither resurrect a deleted session nor
        // move one to another user; created/absolute expiry are never rewritten.
        _update = $"""UPDATE "{tableName}" SET data = $p2, client = $p3, last_seen_at = $p4, expires_at = $p5 WHERE id = $p0 AND user_id = $p1""";
        _touch = $"""UPDATE "{tableName}" SET last_seen_at = $p2, expires_at = $p3 WHERE id = $p0 AND user_id = $p1""";
        _delete = $"""DELETE FROM "{tableName}" WHERE id = $p0""";
        _deleteUser = $"""DELETE FROM "{tableName}" WHERE user_id = $p0""";
        _listUser = $"""SELECT {Columns}, id FROM "{tableName}" WHERE user_id = $p0""";
        _sweep = $"""DELETE FROM "{tableName}" WHERE id IN (SELECT id FROM "{tableName}" WHERE expires_at <= $p0 LIMIT $p1)""";
        try { _db.EnsureSchema(_schema); }
        catch
        {
            _db.Dispose();
            throw;
        }
    }

    /// <summary>Full path of the database file.</summary>
    public string DatabasePath => _db.DatabasePath;

    /// <summary>Name of the table holding the sessions.</summary>
    public string TableName => _table;

    /// <summary>
    /// Creates the table and its indexes when missing and checks WAL mode. Idempotent; the constructor
    /// already calls it, so only call it to re-create a table dropped behind the store's back.
    /// </summary>
    /// <exception cref="SqliteSessionStoreException">The file is unreadable or not a database.</exception>
    public ValueTask EnsureSchemaAsync(CancellationToken ct = default) => _db.EnsureSchemaAsync(_schema, ct);

    /// <inheritdoc/>
    public ValueTask<SessionRecord?> GetAsync(SessionKey key, CancellationToken ct) => ValueTask.FromResult(_db.Read((_get, key), static (c, s) =>
    {
        using var reader = c.Command(s._get, null, c.KeyBytes(s.key)).ExecuteReader();
        return reader.Read() ? ReadRecord(reader, s.key) : null;
    }, ct));

    /// <inheritdoc/>
    public async ValueTask CreateAsync(SessionRecord record, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(record);
        await _db.WriteAsync(c => { Insert(c, record, null); return true; }, ct).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public ValueTask<bool> UpdateAsync(SessionRecord record, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(record);
        return _db.WriteAsync(c => c.Command(_update, null,
            record.Key.ToArray(), record.UserId, record.Data, record.Client,
            record.LastSeenAt.ToUnixTimeMilliseconds(), record.ExpiresAt.ToUnixTimeMilliseconds()).ExecuteNonQuery() == 1, ct);
    }

    /// <inheritdoc/>
    public ValueTask<bool> TouchAsync(SessionRecord record, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(record);
        return _db.WriteAsync(c => c.Command(_touch, null, record.Key.ToArray(), record.UserId,
            record.LastSeenAt.ToUnixTimeMilliseconds(), record.ExpiresAt.ToUnixTimeMilliseconds()).ExecuteNonQuery() == 1, ct);
    }

    /// <inheritdoc/>
    public ValueTask<bool> RotateAsync(SessionKey oldKey, SessionRecord next, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(next);
        return _db.WriteAsync(c =>
        {
            // BEGIN IMMEDIATE takes the write lock up front: another process cannot slip a write between
            // the delete and the insert, and the transaction never has to upgrade a read lock (which in WAL
            // fails with SQLITE_BUSY_SNAPSHOT instead of waiting).
            using var tx = c.Sqlite.BeginTransaction(deferred: false);
            if (c.Command(_delete, tx, oldKey.ToArray()).ExecuteNonQuery() == 0)
                return false;    // disposing tx rolls back; nothing was written anyway
            Insert(c, next, tx);
            tx.Commit();
            return true;
        }, ct);
    }

    /// <inheritdoc/>
    public ValueTask<bool> DeleteAsync(SessionKey key, CancellationToken ct) =>
        _db.WriteAsync(c => c.Command(_delete, null, key.ToArray()).ExecuteNonQuery() == 1, ct);

    /// <inheritdoc/>
    public ValueTask<int> DeleteUserAsync(string userId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return _db.WriteAsync(c => c.Command(_deleteUser, null, userId).ExecuteNonQuery(), ct);
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<SessionRecord>> ListUserAsync(string userId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return ValueTask.FromResult<IReadOnlyList<SessionRecord>>(_db.Read(c =>
        {
            using var reader = c.Command(_listUser, null, userId).ExecuteReader();
            var list = new List<SessionRecord>();
            while (reader.Read())
            {
                var key = new SessionKey(reader.GetFieldValue<byte[]>(7));
                list.Add(ReadRecord(reader, key));
            }
            return list;
        }, ct));
    }

    /// <inheritdoc/>
    public ValueTask<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        // One autocommit statement is one short write transaction; in WAL mode readers keep reading their
        // snapshot meanwhile. The LIMIT keeps each transaction (and the WAL growth) bounded.
        return _db.WriteAsync(c => c.Command(_sweep, null, now.ToUnixTimeMilliseconds(), batchSize).ExecuteNonQuery(), ct);
    }

    /// <summary>Closes every connection. Calls in flight finish; later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose() => _db.Dispose();

    /// <summary>
    /// Value of a per-connection pragma on the writer connection (tests check durability settings with
    /// it: synchronous and busy_timeout live on the connection, not in the file).
    /// </summary>
    internal ValueTask<object?> ReadWriterPragmaAsync(string name)
    {
        if (!SqliteDatabase.IsIdentifier(name)) throw new ArgumentException("Not a pragma name.", nameof(name));
        return _db.WriteAsync(c =>
        {
            using var cmd = c.Sqlite.CreateCommand();
            cmd.CommandText = $"PRAGMA {name}";
            return cmd.ExecuteScalar();
        }, default);
    }

    private void Insert(SqliteDatabase.Connection c, SessionRecord r, SqliteTransaction? tx)
    {
        try
        {
            c.Command(_insert, tx,
                r.Key.ToArray(), r.UserId, r.Data, r.Client,
                r.CreatedAt.ToUnixTimeMilliseconds(), r.LastSeenAt.ToUnixTimeMilliseconds(),
                r.ExpiresAt.ToUnixTimeMilliseconds(), r.AbsoluteExpiresAt.ToUnixTimeMilliseconds()).ExecuteNonQuery();
        }
        catch (SqliteException ex) when (ex.SqliteExtendedErrorCode == PrimaryKeyViolation)
        {
            throw new SessionKeyCollisionException();
        }
    }

    private static SessionRecord ReadRecord(SqliteDataReader r, SessionKey key) => new()
    {
        Key = key,
        UserId = r.GetString(0),
        Data = r.IsDBNull(1) ? null : r.GetString(1),
        Client = r.IsDBNull(2) ? null : r.GetString(2),
        CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3)),
        LastSeenAt = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)),
        ExpiresAt = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)),
        AbsoluteExpiresAt = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(6)),
    };
}
