using Bouncer.Users;
using Microsoft.Data.Sqlite;

namespace Bouncer.Stores.Sqlite;

/// <summary>
/// An <see cref="IUserStore"/> in one SQLite database file: durable, shareable by several processes on
/// the same machine (the server and the CLI). Passwords arrive and stay as PBKDF2 hashes.
/// </summary>
/// <remarks>
/// Thread-safe. WAL mode with <c>synchronous=FULL</c>; writes queue on one writer connection, reads run on
/// pooled readers. <see cref="CreateAsync"/> is one INSERT: of two racing registrations of one name the
/// primary key lets exactly one in. A broken file throws <see cref="SqliteStoreException"/> naming the path.
/// </remarks>
/// <example>
/// <code>
/// using var store = new SqliteUserStore("/var/lib/myapp/bouncer.db");
/// var users = new UserService(store, TimeProvider.System);
/// </code>
/// </example>
public sealed class SqliteUserStore : IUserStore, IDisposable
{
    /// <summary>Table used when none is named.</summary>
    public const string DefaultTableName = "bouncer_users";

    private const int PrimaryKeyViolation = 1555;   // SQLITE_CONSTRAINT_PRIMARYKEY
    private const int UniqueViolation = 2067;       // SQLITE_CONSTRAINT_UNIQUE

    private readonly SqliteDatabase _db;
    private readonly bool _ownsDatabase;
    private readonly string _insert, _get, _update, _recordFailure;

    /// <summary>Opens (creating if needed) the database and its table in WAL mode.</summary>
    /// <param name="pathOrConnectionString">A file path, or a Microsoft.Data.Sqlite connection string
    /// starting with <c>Data Source=</c> (or <c>DataSource=</c>, <c>Filename=</c>).</param>
    /// <param name="tableName">Letters, digits and underscores, not starting with a digit, at most 63 chars.</param>
    /// <exception cref="ArgumentException">Bad table name, or an in-memory database.</exception>
    /// <exception cref="SqliteStoreException">The file cannot be opened or is not a SQLite database.</exception>
    public SqliteUserStore(string pathOrConnectionString, string tableName = DefaultTableName)
        : this(new SqliteDatabase(pathOrConnectionString), tableName, ownsDatabase: true)
    {
    }

    internal SqliteUserStore(SqliteDatabase db, string tableName, bool ownsDatabase)
    {
        SqliteDatabase.CheckTableName(tableName, nameof(tableName));
        _db = db;
        _ownsDatabase = ownsDatabase;
        TableName = tableName;
        const string columns = "username, password_hash, roles, failed_logins, locked_until, created_at";
        _insert = $"""INSERT INTO "{tableName}" ({columns}) VALUES ($p0, $p1, $p2, $p3, $p4, $p5)""";
        _get = $"""SELECT {columns} FROM "{tableName}" WHERE username = $p0""";
        // Password hash and creation time are never rewritten here, as in MemoryUserStore.
        _update = $"""UPDATE "{tableName}" SET roles = $p1, failed_logins = $p2, locked_until = $p3 WHERE username = $p0""";
        // One statement on the single writer; the count returns to 0 only when this failure locks the account.
        _recordFailure = $"""
            UPDATE "{tableName}" SET
                failed_logins = CASE WHEN failed_logins + 1 >= $p1 THEN 0 ELSE failed_logins + 1 END,
                locked_until = CASE WHEN failed_logins + 1 >= $p1 THEN $p2 ELSE locked_until END
            WHERE username = $p0
            RETURNING failed_logins = 0
            """;
        try
        {
            _db.EnsureSchema($"""
                CREATE TABLE IF NOT EXISTS "{tableName}" (
                    username TEXT NOT NULL PRIMARY KEY,
                    password_hash TEXT NOT NULL,
                    roles TEXT NOT NULL,
                    failed_logins INTEGER NOT NULL,
                    locked_until INTEGER,
                    created_at INTEGER NOT NULL
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

    /// <summary>Name of the table holding the accounts.</summary>
    public string TableName { get; }

    /// <inheritdoc/>
    public ValueTask<bool> CreateAsync(UserRecord user, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(user);
        return _db.WriteAsync(c =>
        {
            try
            {
                c.Command(_insert, null, user.Username, user.PasswordHash, user.Roles, user.FailedLogins,
                    user.LockedUntil?.ToUnixTimeMilliseconds(), user.CreatedAt.ToUnixTimeMilliseconds()).ExecuteNonQuery();
                return true;
            }
            catch (SqliteException ex) when (ex.SqliteExtendedErrorCode is PrimaryKeyViolation or UniqueViolation)
            {
                return false;   // the name is taken (possibly by another process a moment ago)
            }
        }, ct);
    }

    /// <inheritdoc/>
    public ValueTask<UserRecord?> GetAsync(string username, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        return ValueTask.FromResult(_db.Read(c =>
        {
            using var r = c.Command(_get, null, username).ExecuteReader();
            if (!r.Read()) return null;
            return new UserRecord
            {
                Username = r.GetString(0),
                PasswordHash = r.GetString(1),
                Roles = r.GetString(2),
                FailedLogins = r.GetInt32(3),
                LockedUntil = r.IsDBNull(4) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)),
                CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)),
            };
        }, ct));
    }

    /// <inheritdoc/>
    public ValueTask<bool> UpdateAsync(UserRecord user, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(user);
        return _db.WriteAsync(c => c.Command(_update, null, user.Username, user.Roles, user.FailedLogins,
            user.LockedUntil?.ToUnixTimeMilliseconds()).ExecuteNonQuery() == 1, ct);
    }

    /// <inheritdoc/>
    public ValueTask<bool> RecordFailedLoginAsync(string username, int maxFailures, DateTimeOffset lockUntil, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        return _db.WriteAsync(c => c.Command(_recordFailure, null, username, maxFailures, lockUntil.ToUnixTimeMilliseconds()).ExecuteScalar() is long locked && locked == 1, ct);
    }

    /// <summary>Closes the connections (unless shared through <see cref="SqliteBouncerStores"/>). Later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (_ownsDatabase) _db.Dispose();
    }
}
