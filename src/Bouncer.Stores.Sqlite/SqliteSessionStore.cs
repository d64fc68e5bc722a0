using System.Collections.Concurrent;
using System.Text.RegularExpressions;
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
public sealed partial class SqliteSessionStore : ISessionStore, IDisposable
{
    /// <summary>Table used when none is named.</summary>
    public const string DefaultTableName = "bouncer_sessions";

    /// <summary>How long a write waits for another process's write lock before failing.</summary>
    public static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(10);

    // Readers kept open beyond this are closed on return; more may be open briefly under a burst.
    private static readonly int MaxIdleReaders = Math.Max(4, Environment.ProcessorCount * 2);

    private readonly string _connectionString;
    private readonly string _path;
    private readonly string _table;
    private readonly Sql _sql;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly ConcurrentBag<Lease> _readers = [];
    private Lease? _writer;
    private volatile bool _disposed;

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
        // A table name cannot be a bound parameter, so it is checked against a strict pattern before it
        // is ever spliced into SQL; every value is bound.
        if (tableName is null || !IdentifierPattern().IsMatch(tableName))
            throw new ArgumentException("Table name must be 1 to 63 letters, digits or underscores, not starting with a digit.", nameof(tableName));

        var builder = LooksLikeConnectionString(pathOrConnectionString)
            ? new SqliteConnectionStringBuilder(pathOrConnectionString)
            : new SqliteConnectionStringBuilder { DataSource = pathOrConnectionString };
        if (builder.Mode == SqliteOpenMode.Memory || builder.DataSource is "" or ":memory:")
            throw new ArgumentException("SqliteSessionStore needs a database file; use MemorySessionStore for an in-memory store.", nameof(pathOrConnectionString));
        // This store keeps its own open connections (with their pragmas and prepared statements), so the
        // driver's pool would only keep files open after Dispose.
        builder.Pooling = false;
        builder.DefaultTimeout = (int)BusyTimeout.TotalSeconds;
        _connectionString = builder.ToString();
        _path = builder.DataSource;
        _table = tableName;
        _sql = new Sql(tableName);
        EnsureSchema();
    }

    /// <summary>Full path of the database file.</summary>
    public string DatabasePath => Path.GetFullPath(_path);

    /// <summary>Name of the table holding the sessions.</summary>
    public string TableName => _table;

    /// <summary>
    /// Creates the table and its indexes when missing and checks WAL mode. Idempotent; the constructor
    /// already calls it, so only call it to re-create a table dropped behind the store's back.
    /// </summary>
    /// <exception cref="SqliteSessionStoreException">The file is unreadable or not a database.</exception>
    public async ValueTask EnsureSchemaAsync(CancellationToken ct = default)
    {
        await _writeGate.WaitAsync(ct).ConfigureAwait(false);
        try { EnsureSchemaCore(); }
        finally { _writeGate.Release(); }
    }

    /// <inheritdoc/>
    public ValueTask<SessionRecord?> GetAsync(SessionKey key, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var lease = RentReader();
        try
        {
            var cmd = lease.Command(Sql.Get, _sql);
            cmd.Parameters[0].Value = key.ToArray();
            using var reader = cmd.ExecuteReader();
            return ValueTask.FromResult(reader.Read() ? ReadRecord(reader, key) : null);
        }
        catch (SqliteException ex) { throw Wrap(ex); }
        finally { ReturnReader(lease); }
    }

    /// <inheritdoc/>
    public async ValueTask CreateAsync(SessionRecord record, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(record);
        var writer = await EnterWriterAsync(ct).ConfigureAwait(false);
        try
        {
            Insert(writer, record);
        }
        finally { _writeGate.Release(); }
    }

    /// <inheritdoc/>
    public async ValueTask<bool> UpdateAsync(SessionRecord record, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(record);
        var writer = await EnterWriterAsync(ct).ConfigureAwait(false);
        try
        {
            // Matching on user too means a stale or forged record can neither resurrect a deleted session
            // nor move one to another user; created/absolute expiry are never rewritten.
            var cmd = writer.Command(Sql.Update, _sql);
            var p = cmd.Parameters;
            p[0].Value = record.Key.ToArray();
            p[1].Value = record.UserId;
            p[2].Value = (object?)record.Data ?? DBNull.Value;
            p[3].Value = (object?)record.Client ?? DBNull.Value;
            p[4].Value = record.LastSeenAt.ToUnixTimeMilliseconds();
            p[5].Value = record.ExpiresAt.ToUnixTimeMilliseconds();
            return cmd.ExecuteNonQuery() == 1;
        }
        catch (SqliteException ex) { throw Wrap(ex); }
        finally { _writeGate.Release(); }
    }

    /// <inheritdoc/>
    public async ValueTask<bool> RotateAsync(SessionKey oldKey, SessionRecord next, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(next);
        var writer = await EnterWriterAsync(ct).ConfigureAwait(false);
        try
        {
            // BEGIN IMMEDIATE takes the write lock up front: another process cannot slip a write between
            // the delete and the insert, and the transaction never has to upgrade a read lock (which in WAL
            // fails with SQLITE_BUSY_SNAPSHOT instead of waiting).
            using var tx = writer.Connection.BeginTransaction(deferred: false);
            var delete = writer.Command(Sql.Delete, _sql);
            delete.Transaction = tx;
            delete.Parameters[0].Value = oldKey.ToArray();
            var deleted = delete.ExecuteNonQuery();
            delete.Transaction = null;
            if (deleted == 0) return false;    // disposing tx rolls back; nothing was written anyway
            Insert(writer, next, tx);
            tx.Commit();
            return true;
        }
        catch (SqliteException ex) { throw Wrap(ex); }
        finally { _writeGate.Release(); }
    }

    /// <inheritdoc/>
    public async ValueTask<bool> DeleteAsync(SessionKey key, CancellationToken ct)
    {
        var writer = await EnterWriterAsync(ct).ConfigureAwait(false);
        try
        {
            var cmd = writer.Command(Sql.Delete, _sql);
            cmd.Parameters[0].Value = key.ToArray();
            return cmd.ExecuteNonQuery() == 1;
        }
        catch (SqliteException ex) { throw Wrap(ex); }
        finally { _writeGate.Release(); }
    }

    /// <inheritdoc/>
    public async ValueTask<int> DeleteUserAsync(string userId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(userId);
        var writer = await EnterWriterAsync(ct).ConfigureAwait(false);
        try
        {
            var cmd = writer.Command(Sql.DeleteUser, _sql);
            cmd.Parameters[0].Value = userId;
            return cmd.ExecuteNonQuery();
        }
        catch (SqliteException ex) { throw Wrap(ex); }
        finally { _writeGate.Release(); }
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<SessionRecord>> ListUserAsync(string userId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(userId);
        ct.ThrowIfCancellationRequested();
        var lease = RentReader();
        try
        {
            var cmd = lease.Command(Sql.ListUser, _sql);
            cmd.Parameters[0].Value = userId;
            using var reader = cmd.ExecuteReader();
            var list = new List<SessionRecord>();
            while (reader.Read())
            {
                var key = new SessionKey(reader.GetFieldValue<byte[]>(7));
                list.Add(ReadRecord(reader, key));
            }
            return ValueTask.FromResult<IReadOnlyList<SessionRecord>>(list);
        }
        catch (SqliteException ex) { throw Wrap(ex); }
        finally { ReturnReader(lease); }
    }

    /// <inheritdoc/>
    public async ValueTask<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var writer = await EnterWriterAsync(ct).ConfigureAwait(false);
        try
        {
            // One autocommit statement is one short write transaction; in WAL mode readers keep reading
            // their snapshot meanwhile. The LIMIT keeps each transaction (and the WAL growth) bounded.
            var cmd = writer.Command(Sql.Sweep, _sql);
            cmd.Parameters[0].Value = now.ToUnixTimeMilliseconds();
            cmd.Parameters[1].Value = batchSize;
            return cmd.ExecuteNonQuery();
        }
        catch (SqliteException ex) { throw Wrap(ex); }
        finally { _writeGate.Release(); }
    }

    /// <summary>Closes every connection. Calls in flight finish; later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _writeGate.Wait();
        try
        {
            _writer?.Dispose();
            _writer = null;
        }
        finally { _writeGate.Release(); }
        while (_readers.TryTake(out var lease)) lease.Dispose();
    }

    /// <summary>
    /// Value of a per-connection pragma on the writer connection (tests check durability settings with
    /// it: synchronous and busy_timeout live on the connection, not in the file).
    /// </summary>
    internal async ValueTask<object?> ReadWriterPragmaAsync(string name)
    {
        if (!IdentifierPattern().IsMatch(name)) throw new ArgumentException("Not a pragma name.", nameof(name));
        var writer = await EnterWriterAsync(default).ConfigureAwait(false);
        try
        {
            using var cmd = writer.Connection.CreateCommand();
            cmd.CommandText = $"PRAGMA {name}";
            return cmd.ExecuteScalar();
        }
        finally { _writeGate.Release(); }
    }

    private void EnsureSchema()
    {
        _writeGate.Wait();
        try { EnsureSchemaCore(); }
        finally { _writeGate.Release(); }
    }

    private void EnsureSchemaCore()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        try
        {
            _writer ??= Open();
            using var cmd = _writer.Connection.CreateCommand();
            // journal_mode is stored in the file, so it is set once here for every connection and process.
            cmd.CommandText = "PRAGMA journal_mode=WAL;";
            var mode = Convert.ToString(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                throw new SqliteSessionStoreException($"SQLite session store '{DatabasePath}': cannot switch to WAL mode (journal_mode is '{mode}').");
            cmd.CommandText = _sql.Schema;
            cmd.ExecuteNonQuery();
        }
        catch (SqliteException ex)
        {
            // Typically SQLITE_CANTOPEN (missing folder, no permission) or SQLITE_NOTADB (corrupt file).
            _writer?.Dispose();
            _writer = null;
            throw Wrap(ex);
        }
    }

    private async ValueTask<Lease> EnterWriterAsync(CancellationToken ct)
    {
        await _writeGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _writer ??= Open();
        }
        catch
        {
            _writeGate.Release();
            throw;
        }
    }

    private void Insert(Lease writer, SessionRecord r, SqliteTransaction? tx = null)
    {
        var cmd = writer.Command(Sql.Insert, _sql);
        cmd.Transaction = tx;
        try
        {
            var p = cmd.Parameters;
            p[0].Value = r.Key.ToArray();
            p[1].Value = r.UserId;
            p[2].Value = (object?)r.Data ?? DBNull.Value;
            p[3].Value = (object?)r.Client ?? DBNull.Value;
            p[4].Value = r.CreatedAt.ToUnixTimeMilliseconds();
            p[5].Value = r.LastSeenAt.ToUnixTimeMilliseconds();
            p[6].Value = r.ExpiresAt.ToUnixTimeMilliseconds();
            p[7].Value = r.AbsoluteExpiresAt.ToUnixTimeMilliseconds();
            cmd.ExecuteNonQuery();
        }
        catch (SqliteException ex) when (ex.SqliteExtendedErrorCode == 1555)   // SQLITE_CONSTRAINT_PRIMARYKEY
        {
            throw new SessionKeyCollisionException();
        }
        catch (SqliteException ex) { throw Wrap(ex); }
        finally { cmd.Transaction = null; }
    }

    private Lease RentReader()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_readers.TryTake(out var lease)) return lease;
        try { return Open(); }
        catch (SqliteException ex) { throw Wrap(ex); }
    }

    private void ReturnReader(Lease lease)
    {
        if (_disposed || _readers.Count >= MaxIdleReaders) lease.Dispose();
        else _readers.Add(lease);
    }

    private Lease Open()
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            using var cmd = connection.CreateCommand();
            // synchronous and busy_timeout are per connection. FULL fsyncs the WAL at every commit, so a
            // committed session survives power loss (NORMAL could lose the last commits). busy_timeout makes
            // a write wait for another process's lock instead of failing with SQLITE_BUSY.
            cmd.CommandText = $"PRAGMA synchronous=FULL; PRAGMA busy_timeout={(int)BusyTimeout.TotalMilliseconds};";
            cmd.ExecuteNonQuery();
            return new Lease(connection);
        }
        catch
        {
            connection.Dispose();
            throw;
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

    private SqliteSessionStoreException Wrap(SqliteException ex) =>
        new($"SQLite session store '{DatabasePath}': {ex.Message}", ex);

    private static bool LooksLikeConnectionString(string s)
    {
        var t = s.TrimStart();
        return t.StartsWith("Data Source=", StringComparison.OrdinalIgnoreCase)
            || t.StartsWith("DataSource=", StringComparison.OrdinalIgnoreCase)
            || t.StartsWith("Filename=", StringComparison.OrdinalIgnoreCase);
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
    private static partial Regex IdentifierPattern();

    /// <summary>The statements of one table, built once; values are always bound parameters.</summary>
    private sealed class Sql(string table)
    {
        public const int Get = 0, Insert = 1, Update = 2, Delete = 3, DeleteUser = 4, ListUser = 5, Sweep = 6, Count = 7;

        private const string Columns = "user_id, data, client, created_at, last_seen_at, expires_at, absolute_expires_at";

        // The id is the 32-byte SHA-256 of the session id, never the id itself. WITHOUT ROWID stores rows
        // in the primary-key b-tree, so a lookup by id is one b-tree search instead of two.
        public readonly string Schema = $"""
            CREATE TABLE IF NOT EXISTS "{table}" (
                id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 32),
                user_id TEXT NOT NULL,
                data TEXT,
                client TEXT,
                created_at INTEGER NOT NULL,
                last_seen_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                absolute_expires_at INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS "{table}_expires_at" ON "{table}" (expires_at);
            CREATE INDEX IF NOT EXISTS "{table}_user_id" ON "{table}" (user_id);
            """;

        private readonly (string Text, (string Name, SqliteType Type)[] Parameters)[] _statements =
        [
            ($"""SELECT {Columns} FROM "{table}" WHERE id = $id""", [("$id", SqliteType.Blob)]),
            ($"""INSERT INTO "{table}" (id, {Columns}) VALUES ($id, $user, $data, $client, $created, $seen, $expires, $absolute)""",
                [("$id", SqliteType.Blob), ("$user", SqliteType.Text), ("$data", SqliteType.Text), ("$client", SqliteType.Text),
                 ("$created", SqliteType.Integer), ("$seen", SqliteType.Integer), ("$expires", SqliteType.Integer), ("$absolute", SqliteType.Integer)]),
            ($"""UPDATE "{table}" SET data = $data, client = $client, last_seen_at = $seen, expires_at = $expires WHERE id = $id AND user_id = $user""",
                [("$id", SqliteType.Blob), ("$user", SqliteType.Text), ("$data", SqliteType.Text), ("$client", SqliteType.Text),
                 ("$seen", SqliteType.Integer), ("$expires", SqliteType.Integer)]),
            ($"""DELETE FROM "{table}" WHERE id = $id""", [("$id", SqliteType.Blob)]),
            ($"""DELETE FROM "{table}" WHERE user_id = $user""", [("$user", SqliteType.Text)]),
            ($"""SELECT {Columns}, id FROM "{table}" WHERE user_id = $user""", [("$user", SqliteType.Text)]),
            ($"""DELETE FROM "{table}" WHERE id IN (SELECT id FROM "{table}" WHERE expires_at <= $now LIMIT $n)""",
                [("$now", SqliteType.Integer), ("$n", SqliteType.Integer)]),
        ];

        public SqliteCommand Create(SqliteConnection connection, int which)
        {
            var (text, parameters) = _statements[which];
            var cmd = connection.CreateCommand();
            cmd.CommandText = text;
            foreach (var (name, type) in parameters) cmd.Parameters.Add(name, type);
            return cmd;
        }
    }

    /// <summary>
    /// One open connection with its pragmas applied and its statements prepared on first use; used by one
    /// caller at a time (a SqliteConnection is not thread-safe).
    /// </summary>
    private sealed class Lease(SqliteConnection connection) : IDisposable
    {
        private readonly SqliteCommand?[] _commands = new SqliteCommand?[Sql.Count];

        public SqliteConnection Connection { get; } = connection;

        // Reusing the command keeps its compiled statement: SQLite parses each statement once per connection.
        public SqliteCommand Command(int which, Sql sql) => _commands[which] ??= sql.Create(Connection, which);

        public void Dispose()
        {
            foreach (var c in _commands) c?.Dispose();
            Connection.Dispose();
        }
    }
}

/// <summary>
/// The SQLite database behind a <see cref="SqliteSessionStore"/> failed (unreadable or corrupt file,
/// disk full, lock held too long). The message names the file. Broken infrastructure, not "not found".
/// </summary>
public sealed class SqliteSessionStoreException(string message, Exception? inner = null) : SqliteStoreException(message, inner);
