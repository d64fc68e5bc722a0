using Bouncer.Users;
using Microsoft.Data.Sqlite;

namespace Bouncer.Stores.Sqlite;

/// <summary>
/// An <see cref="IUserStore"/> in one SQLite database file: durable, shareable by several processes on
/// the same machine (the server and the CLI). Passwords arrive and stay as hashes (see <see cref="PasswordHasher"/>).
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
    private readonly string _insert, _get, _update, _setPasswordHash, _delete, _listFrom, _listAfter, _recordFailure, _clearFailures, _replaceHash;
    private readonly string _table;

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
        _table = tableName;
        const string columns = "username, password_hash, roles, failed_logins, locked_until, created_at, suspended";
        _insert = $"""INSERT INTO "{tableName}" ({columns}) VALUES ($p0, $p1, $p2, $p3, $p4, $p5, $p6)""";
        _get = $"""SELECT {columns} FROM "{tableName}" WHERE username = $p0""";
        // Password hash and creation time are never rewritten here, as in MemoryUserStore.
        _update = $"""UPDATE "{tableName}" SET roles = $p1, failed_logins = $p2, locked_until = $p3, suspended = $p4 WHERE username = $p0""";
        _setPasswordHash = $"""UPDATE "{tableName}" SET password_hash = $p1 WHERE username = $p0""";
        _delete = $"""DELETE FROM "{tableName}" WHERE username = $p0""";
        // GLOB, not LIKE: LIKE ignores ASCII case in SQLite, GLOB compares exactly (BINARY, the primary key's
        // collation, so the index serves the range). The bound ($p0) is where the range starts: the prefix
        // itself (inclusive) or the caller's last name (exclusive), whichever sorts later.
        _listFrom = $"""SELECT {columns} FROM "{tableName}" WHERE username >= $p0 AND username GLOB $p1 ORDER BY username LIMIT $p2""";
        _listAfter = $"""SELECT {columns} FROM "{tableName}" WHERE username > $p0 AND username GLOB $p1 ORDER BY username LIMIT $p2""";
        // One statement on the single writer; the count returns to 0 only when this failure locks the account.
        _clearFailures = $"""UPDATE "{tableName}" SET failed_logins = 0, locked_until = NULL WHERE username = $p0""";
        _replaceHash = $"""UPDATE "{tableName}" SET password_hash = $p2 WHERE username = $p0 AND password_hash = $p1""";
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
                    created_at INTEGER NOT NULL,
                    suspended INTEGER NOT NULL DEFAULT 0
                ) WITHOUT ROWID;
                """);
            AddSuspendedColumnIfMissing();
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
                    user.LockedUntil?.ToUnixTimeMilliseconds(), user.CreatedAt.ToUnixTimeMilliseconds(), user.Suspended ? 1 : 0).ExecuteNonQuery();
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
            return r.Read() ? ReadRecord(r) : null;
        }, ct));
    }

    /// <inheritdoc/>
    public ValueTask<bool> UpdateAsync(UserRecord user, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(user);
        return _db.WriteAsync(c => c.Command(_update, null, user.Username, user.Roles, user.FailedLogins,
            user.LockedUntil?.ToUnixTimeMilliseconds(), user.Suspended ? 1 : 0).ExecuteNonQuery() == 1, ct);
    }

    /// <inheritdoc/>
    public ValueTask<bool> SetPasswordHashAsync(string username, string passwordHash, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(passwordHash);
        return _db.WriteAsync(c => c.Command(_setPasswordHash, null, username, passwordHash).ExecuteNonQuery() == 1, ct);
    }

    /// <inheritdoc/>
    public ValueTask<bool> ReplacePasswordHashAsync(string username, string expectedHash, string passwordHash, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(expectedHash);
        ArgumentNullException.ThrowIfNull(passwordHash);
        return _db.WriteAsync(c => c.Command(_replaceHash, null, username, expectedHash, passwordHash).ExecuteNonQuery() == 1, ct);
    }

    /// <inheritdoc/>
    public ValueTask<bool> ClearFailedLoginsAsync(string username, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        return _db.WriteAsync(c => c.Command(_clearFailures, null, username).ExecuteNonQuery() == 1, ct);
    }

    /// <inheritdoc/>
    public ValueTask<bool> DeleteAsync(string username, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        return _db.WriteAsync(c => c.Command(_delete, null, username).ExecuteNonQuery() == 1, ct);
    }

    /// <inheritdoc/>
    /// <remarks>Names compare by their UTF-8 bytes (SQLite's BINARY collation): the same as ordinal UTF-16 order
    /// except between characters above U+FFFF and those from U+E000 to U+FFFF.</remarks>
    public ValueTask<IReadOnlyList<UserRecord>> ListAsync(string? prefix, string? after, int limit, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 0);
        if (limit == 0) return ValueTask.FromResult<IReadOnlyList<UserRecord>>([]);
        prefix ??= "";
        var pattern = EscapeGlob(prefix) + "*";
        // Start the index range at whichever bound is later, so deep pages do not rescan the names before them.
        var fromAfter = after is not null && string.CompareOrdinal(after, prefix) >= 0;
        return ValueTask.FromResult<IReadOnlyList<UserRecord>>(_db.Read(c =>
        {
            using var r = c.Command(fromAfter ? _listAfter : _listFrom, null, fromAfter ? after : prefix, pattern, limit).ExecuteReader();
            var page = new List<UserRecord>();
            while (r.Read()) page.Add(ReadRecord(r));
            return page;
        }, ct));
    }

    /// <inheritdoc/>
    public ValueTask<bool> RecordFailedLoginAsync(string username, int maxFailures, DateTimeOffset lockUntil, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        return _db.WriteAsync(c => c.Command(_recordFailure, null, username, maxFailures, lockUntil.ToUnixTimeMilliseconds()).ExecuteScalar() is long locked && locked == 1, ct);
    }

    /// <summary>
    /// Adds the <c>suspended</c> column to a table created before it existed: one IMMEDIATE transaction, so of
    /// several processes opening an old file at once one adds it and the others see it.
    /// </summary>
    private void AddSuspendedColumnIfMissing() => _db.WriteAsync(c =>
    {
        using var tx = c.Sqlite.BeginTransaction(deferred: false);
        using var info = c.Sqlite.CreateCommand();
        info.Transaction = tx;
        info.CommandText = $"""SELECT count(*) FROM pragma_table_info('{_table}') WHERE name = 'suspended'""";
        if ((long)info.ExecuteScalar()! == 0)
        {
            info.CommandText = $"""ALTER TABLE "{_table}" ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0""";
            info.ExecuteNonQuery();
        }
        tx.Commit();
        return true;
    }, CancellationToken.None).AsTask().GetAwaiter().GetResult();

    // Column order is the statements' column list.
    private static UserRecord ReadRecord(SqliteDataReader r) => new()
    {
        Username = r.GetString(0),
        PasswordHash = r.GetString(1),
        Roles = r.GetString(2),
        FailedLogins = r.GetInt32(3),
        LockedUntil = r.IsDBNull(4) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)),
        CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)),
        Suspended = r.GetInt64(6) != 0,
    };

    // GLOB's metacharacters * ? [ each become a one-character class, which matches only themselves.
    private static string EscapeGlob(string literal)
    {
        var sb = new System.Text.StringBuilder(literal.Length + 8);
        foreach (var ch in literal)
        {
            if (ch is '*' or '?' or '[') sb.Append('[').Append(ch).Append(']');
            else sb.Append(ch);
        }
        return sb.ToString();
    }

    /// <summary>Closes the connections (unless shared through <see cref="SqliteBouncerStores"/>). Later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (_ownsDatabase) _db.Dispose();
    }
}
