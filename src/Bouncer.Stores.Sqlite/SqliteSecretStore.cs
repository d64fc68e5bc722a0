using Bouncer.Users;

namespace Bouncer.Stores.Sqlite;

/// <summary>
/// An <see cref="ISecretStore"/> in one SQLite database file: named values (signing keys, the refresh
/// derivation key, the issuer) shared by every process using the file.
/// </summary>
/// <remarks>
/// Thread-safe. WAL mode with <c>synchronous=FULL</c>. The values can be secrets: they are stored as given,
/// so protect the file (and its <c>-wal</c> companion) with file-system permissions. A broken file throws
/// <see cref="SqliteStoreException"/> naming the path.
/// </remarks>
/// <example>
/// <code>
/// using var secrets = new SqliteSecretStore("/var/lib/myapp/bouncer.db");
/// var issuer = await secrets.GetOrAddAsync("issuer", "https://auth.example", ct);
/// </code>
/// </example>
public sealed class SqliteSecretStore : ISecretStore, IDisposable
{
    /// <summary>Table used when none is named.</summary>
    public const string DefaultTableName = "bouncer_secrets";

    private readonly SqliteDatabase _db;
    private readonly bool _ownsDatabase;
    private readonly string _get, _insertIfAbsent, _upsert, _replace;

    /// <summary>Opens (creating if needed) the database and its table in WAL mode.</summary>
    /// <param name="pathOrConnectionString">A file path, or a Microsoft.Data.Sqlite connection string
    /// starting with <c>Data Source=</c> (or <c>DataSource=</c>, <c>Filename=</c>).</param>
    /// <param name="tableName">Letters, digits and underscores, not starting with a digit, at most 63 chars.</param>
    /// <exception cref="ArgumentException">Bad table name, or an in-memory database.</exception>
    /// <exception cref="SqliteStoreException">The file cannot be opened or is not a SQLite database.</exception>
    public SqliteSecretStore(string pathOrConnectionString, string tableName = DefaultTableName)
        : this(new SqliteDatabase(pathOrConnectionString), tableName, ownsDatabase: true)
    {
    }

    internal SqliteSecretStore(SqliteDatabase db, string tableName, bool ownsDatabase)
    {
        SqliteDatabase.CheckTableName(tableName, nameof(tableName));
        _db = db;
        _ownsDatabase = ownsDatabase;
        TableName = tableName;
        _replace = $"""UPDATE "{tableName}" SET value = $p2 WHERE name = $p0 AND value = $p1""";
        _get = $"""SELECT value FROM "{tableName}" WHERE name = $p0""";
        _insertIfAbsent = $"""INSERT OR IGNORE INTO "{tableName}" (name, value) VALUES ($p0, $p1)""";
        _upsert = $"""INSERT INTO "{tableName}" (name, value) VALUES ($p0, $p1) ON CONFLICT (name) DO UPDATE SET value = excluded.value""";
        try
        {
            _db.EnsureSchema($"""
                CREATE TABLE IF NOT EXISTS "{tableName}" (
                    name TEXT NOT NULL PRIMARY KEY,
                    value TEXT NOT NULL
                ) WITHOUT ROWID;
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

    /// <summary>Name of the table holding the values.</summary>
    public string TableName { get; }

    /// <inheritdoc/>
    public ValueTask<string?> GetAsync(string name, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(name);
        return ValueTask.FromResult(_db.Read(c => c.Command(_get, null, name).ExecuteScalar() as string, ct));
    }

    /// <inheritdoc/>
    public ValueTask<string> GetOrAddAsync(string name, string value, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(value);
        return _db.WriteAsync(c =>
        {
            // One IMMEDIATE transaction: the value read back is the one stored, even when another process
            // inserts or replaces it at the same moment.
            using var tx = c.Sqlite.BeginTransaction(deferred: false);
            c.Command(_insertIfAbsent, tx, name, value).ExecuteNonQuery();
            var stored = (string)c.Command(_get, tx, name).ExecuteScalar()!;
            tx.Commit();
            return stored;
        }, ct);
    }

    /// <inheritdoc/>
    public async ValueTask SetAsync(string name, string value, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(value);
        await _db.WriteAsync(c => c.Command(_upsert, null, name, value).ExecuteNonQuery(), ct).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public ValueTask<bool> ReplaceAsync(string name, string expected, string value, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(value);
        return _db.WriteAsync(c => c.Command(_replace, null, name, expected, value).ExecuteNonQuery() == 1, ct);
    }

    /// <summary>Closes the connections (unless shared through <see cref="SqliteBouncerStores"/>). Later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (_ownsDatabase) _db.Dispose();
    }
}
