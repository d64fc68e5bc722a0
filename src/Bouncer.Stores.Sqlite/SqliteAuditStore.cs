using Bouncer.Diagnostics;
using Microsoft.Data.Sqlite;

namespace Bouncer.Stores.Sqlite;

/// <summary>
/// An <see cref="IAuditStore"/> in one SQLite database file: one row per event in <c>bouncer_audit</c>, shared by
/// every process using the file.
/// </summary>
/// <remarks>
/// Thread-safe. WAL mode with <c>synchronous=FULL</c>: an appended event survives a crash. Instants are unix
/// milliseconds; the row id (AUTOINCREMENT, never reused) orders events of the same millisecond. Indexed by
/// <c>(subject, at)</c> for one user's trail and by <c>at</c> for the whole log and the sweep. A broken file throws
/// <see cref="SqliteStoreException"/> naming the path.
/// </remarks>
/// <example>
/// <code>
/// using var audit = new SqliteAuditStore("/var/lib/myapp/bouncer.db");
/// var trail = await audit.ListAsync("alice", 50, ct);
/// </code>
/// </example>
public sealed class SqliteAuditStore : IAuditStore, IDisposable
{
    /// <summary>Table used when none is named.</summary>
    public const string DefaultTableName = "bouncer_audit";

    private const string Columns = "kind, at, actor, subject, target, reason, client_address, user_agent";

    private readonly SqliteDatabase _db;
    private readonly bool _ownsDatabase;
    private readonly string _insert, _listAll, _listSubject, _sweep;

    /// <summary>Opens (creating if needed) the database and its table in WAL mode.</summary>
    /// <param name="pathOrConnectionString">A file path, or a Microsoft.Data.Sqlite connection string
    /// starting with <c>Data Source=</c> (or <c>DataSource=</c>, <c>Filename=</c>).</param>
    /// <param name="tableName">Letters, digits and underscores, not starting with a digit, at most 63 chars.</param>
    /// <exception cref="ArgumentException">Bad table name, or an in-memory database.</exception>
    /// <exception cref="SqliteStoreException">The file cannot be opened or is not a SQLite database.</exception>
    public SqliteAuditStore(string pathOrConnectionString, string tableName = DefaultTableName)
        : this(new SqliteDatabase(pathOrConnectionString), tableName, ownsDatabase: true)
    {
    }

    internal SqliteAuditStore(SqliteDatabase db, string tableName, bool ownsDatabase)
    {
        SqliteDatabase.CheckTableName(tableName, nameof(tableName));
        _db = db;
        _ownsDatabase = ownsDatabase;
        TableName = tableName;
        _insert = $"""INSERT INTO "{tableName}" ({Columns}) VALUES ($p0, $p1, $p2, $p3, $p4, $p5, $p6, $p7)""";
        _listAll = $"""SELECT {Columns} FROM "{tableName}" ORDER BY at DESC, id DESC LIMIT $p0""";
        _listSubject = $"""SELECT {Columns} FROM "{tableName}" WHERE subject = $p1 ORDER BY at DESC, id DESC LIMIT $p0""";
        _sweep = $"""DELETE FROM "{tableName}" WHERE id IN (SELECT id FROM "{tableName}" WHERE at < $p0 ORDER BY at LIMIT $p1)""";
        try
        {
            _db.EnsureSchema($"""
                CREATE TABLE IF NOT EXISTS "{tableName}" (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    at INTEGER NOT NULL,
                    kind INTEGER NOT NULL,
                    actor TEXT,
                    subject TEXT,
                    target TEXT,
                    reason TEXT NOT NULL,
                    client_address TEXT,
                    user_agent TEXT
                );
                CREATE INDEX IF NOT EXISTS "{tableName}_subject_at" ON "{tableName}" (subject, at);
                CREATE INDEX IF NOT EXISTS "{tableName}_at" ON "{tableName}" (at);
                """);
        }
        catch when (ownsDatabase)
        {
            db.Dispose();
            throw;
        }
    }

    /// <summary>Full path of the database file.</summary>
    public string DatabasePath => _db.DatabasePath;

    /// <summary>Name of the table holding the events.</summary>
    public string TableName { get; }

    /// <inheritdoc/>
    public async ValueTask AppendAsync(AuditEvent auditEvent, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        var e = auditEvent;
        await _db.WriteAsync(c => c.Command(_insert, null, (int)e.Kind, e.At.ToUnixTimeMilliseconds(), e.Actor, e.Subject, e.Target,
            e.Reason ?? "", e.ClientAddress, e.UserAgent).ExecuteNonQuery(), ct).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<AuditEvent>> ListAsync(string? subject, int limit, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 0);
        if (limit == 0) return ValueTask.FromResult<IReadOnlyList<AuditEvent>>([]);
        return ValueTask.FromResult<IReadOnlyList<AuditEvent>>(_db.Read(c =>
        {
            using var r = (subject is null ? c.Command(_listAll, null, limit) : c.Command(_listSubject, null, limit, subject)).ExecuteReader();
            var page = new List<AuditEvent>();
            while (r.Read()) page.Add(ReadEvent(r));
            return page;
        }, ct));
    }

    /// <inheritdoc/>
    public ValueTask<int> SweepAsync(DateTimeOffset before, int batchSize, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        // The LIMIT keeps each write transaction (and the WAL growth) bounded; readers keep their snapshot.
        return _db.WriteAsync(c => c.Command(_sweep, null, before.ToUnixTimeMilliseconds(), batchSize).ExecuteNonQuery(), ct);
    }

    /// <summary>Closes the connections (unless shared through <see cref="SqliteBouncerStores"/>). Later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (_ownsDatabase) _db.Dispose();
    }

    // Column order is Columns.
    private static AuditEvent ReadEvent(SqliteDataReader r) => new(
        (AuditEventKind)r.GetInt32(0),
        DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1)),
        r.IsDBNull(2) ? null : r.GetString(2),
        r.IsDBNull(3) ? null : r.GetString(3),
        r.IsDBNull(4) ? null : r.GetString(4),
        r.GetString(5),
        r.IsDBNull(6) ? null : r.GetString(6),
        r.IsDBNull(7) ? null : r.GetString(7));
}
