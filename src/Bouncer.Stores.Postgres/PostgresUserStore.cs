using Bouncer.Users;
using Npgsql;
using static Bouncer.Stores.Postgres.PostgresStatements;

namespace Bouncer.Stores.Postgres;

/// <summary>
/// An <see cref="IUserStore"/> over PostgreSQL: one row per account in <c>bouncer_users</c>, keyed by the
/// normalised username. Each operation is one statement.
/// </summary>
/// <remarks>
/// Thread-safe: each call takes its own pooled connection. On a connection fault the pool is cleared;
/// <see cref="GetAsync"/> is retried once, writes are not.
/// </remarks>
public sealed class PostgresUserStore : IUserStore
{
    /// <summary>The table's name inside <see cref="PostgresStoreOptions.Schema"/>.</summary>
    public const string TableName = "bouncer_users";

    private const string Columns = "username, password_hash, roles, failed_logins, locked_until, created_at, suspended";

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _prepare;
    private readonly PostgresStoreOptions _options;
    private readonly string _insert, _get, _update, _setPasswordHash, _delete, _listFrom, _listAfter, _recordFailure, _clearFailures, _replaceHash;

    /// <summary>A store over <paramref name="dataSource"/>, which the caller keeps owning (and disposes).</summary>
    /// <exception cref="ArgumentException">The schema name in <paramref name="options"/> is not a plain identifier.</exception>
    public PostgresUserStore(NpgsqlDataSource dataSource, PostgresStoreOptions? options = null)
    {
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _options = options ?? new PostgresStoreOptions();
        _options.Validate();
        _prepare = _options.PreparedStatements && CanPrepare(dataSource);
        var table = $"\"{_options.Schema}\".\"{TableName}\"";

        // ON CONFLICT DO NOTHING: of two racing registrations the second waits for the first to commit,
        // then inserts nothing (0 rows) instead of failing: one winner, no exception to translate.
        _insert = $"INSERT INTO {table} ({Columns}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (username) DO NOTHING";
        _get = $"SELECT {Columns} FROM {table} WHERE username = $1";
        // The password hash and creation time are never changed here: an update carries login state only.
        _update = $"UPDATE {table} SET roles = $2, failed_logins = $3, locked_until = $4, suspended = $5 WHERE username = $1";
        _setPasswordHash = $"UPDATE {table} SET password_hash = $2 WHERE username = $1";
        _delete = $"DELETE FROM {table} WHERE username = $1";
        // COLLATE "C": byte order whatever the database's collation, served by the C-collated index of SchemaSql.
        // $1 is where the range starts: the prefix itself (inclusive) or the caller's last name (exclusive),
        // whichever sorts later; LIKE (case-sensitive in PostgreSQL) keeps the prefix, its metacharacters escaped.
        const string listTail = """username COLLATE "C" LIKE $2 ESCAPE '\' ORDER BY username COLLATE "C" LIMIT $3""";
        _listFrom = $"""SELECT {Columns} FROM {table} WHERE username COLLATE "C" >= $1 AND {listTail}""";
        _listAfter = $"""SELECT {Columns} FROM {table} WHERE username COLLATE "C" > $1 AND {listTail}""";
        // One statement, so the row lock makes racing failures count one by one. The count returns to 0 only when
        // this failure locks the account, which is how the caller learns that it did.
        _clearFailures = $"UPDATE {table} SET failed_logins = 0, locked_until = NULL WHERE username = $1";
        _replaceHash = $"UPDATE {table} SET password_hash = $3 WHERE username = $1 AND password_hash = $2";
        _recordFailure = $"""
            UPDATE {table} SET
                failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
                locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END
            WHERE username = $1
            RETURNING failed_logins = 0
            """;
    }

    /// <summary>The schema this store uses.</summary>
    public PostgresStoreOptions Options => _options;

    /// <summary>Creates the schema (when missing) and the table when missing; safe to call from many processes at once.</summary>
    public Task EnsureSchemaAsync(CancellationToken ct = default) =>
        PostgresStatements.EnsureSchemaAsync(_dataSource, TableSchema(_options), ct);

    /// <summary>
    /// The CREATE TABLE statement for <paramref name="options"/>, the <c>suspended</c> column added to a table
    /// created before it existed, and the byte-ordered (<c>COLLATE "C"</c>) index listing pages by (idempotent).
    /// </summary>
    public static string SchemaSql(PostgresStoreOptions options) => TableSchema(options).ToSql();

    private static PostgresTableSchema TableSchema(PostgresStoreOptions options)
    {
        options.Validate();
        var table = $"\"{options.Schema}\".\"{TableName}\"";
        return new(options.Schema, TableName, $"""
            CREATE TABLE IF NOT EXISTS {table} (
                username text PRIMARY KEY,
                password_hash text NOT NULL,
                roles text NOT NULL DEFAULT '',
                failed_logins integer NOT NULL DEFAULT 0,
                locked_until timestamptz,
                created_at timestamptz NOT NULL,
                suspended boolean NOT NULL DEFAULT false
            );
            """,
            [("suspended", $"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS suspended boolean NOT NULL DEFAULT false;")],
            [($"{TableName}_username_c", $"CREATE INDEX IF NOT EXISTS \"{TableName}_username_c\" ON {table} (username COLLATE \"C\");")]);
    }

    /// <inheritdoc/>
    public async ValueTask<bool> CreateAsync(UserRecord user, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(user);
        NpgsqlParameter[] p =
        [
            Text(user.Username), Text(user.PasswordHash), Text(user.Roles), Int(user.FailedLogins),
            Instant(user.LockedUntil), Instant(user.CreatedAt), Bool(user.Suspended),
        ];
        return await ExecuteAsync(_dataSource, _prepare, _insert, p, ct).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc/>
    public async ValueTask<UserRecord?> GetAsync(string username, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        var rows = await QueryAsync(_dataSource, _prepare, _get, [Text(username)], ReadRecord, retry: true, ct).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <inheritdoc/>
    public async ValueTask<bool> UpdateAsync(UserRecord user, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(user);
        NpgsqlParameter[] p = [Text(user.Username), Text(user.Roles), Int(user.FailedLogins), Instant(user.LockedUntil), Bool(user.Suspended)];
        return await ExecuteAsync(_dataSource, _prepare, _update, p, ct).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> SetPasswordHashAsync(string username, string passwordHash, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(passwordHash);
        return await ExecuteAsync(_dataSource, _prepare, _setPasswordHash, [Text(username), Text(passwordHash)], ct).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> ReplacePasswordHashAsync(string username, string expectedHash, string passwordHash, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(expectedHash);
        ArgumentNullException.ThrowIfNull(passwordHash);
        return await ExecuteAsync(_dataSource, _prepare, _replaceHash, [Text(username), Text(expectedHash), Text(passwordHash)], ct).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> ClearFailedLoginsAsync(string username, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        return await ExecuteAsync(_dataSource, _prepare, _clearFailures, [Text(username)], ct).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> DeleteAsync(string username, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        return await ExecuteAsync(_dataSource, _prepare, _delete, [Text(username)], ct).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc/>
    /// <remarks>Names compare by their UTF-8 bytes (<c>COLLATE "C"</c>): the same as ordinal UTF-16 order except
    /// between characters above U+FFFF and those from U+E000 to U+FFFF.</remarks>
    public async ValueTask<IReadOnlyList<UserRecord>> ListAsync(string? prefix, string? after, int limit, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 0);
        if (limit == 0) return [];
        prefix ??= "";
        // Start the index range at whichever bound is later, so deep pages do not rescan the names before them.
        var fromAfter = after is not null && string.CompareOrdinal(after, prefix) >= 0;
        NpgsqlParameter[] p = [Text(fromAfter ? after : prefix), Text(EscapeLike(prefix) + "%"), Int(limit)];
        return await QueryAsync(_dataSource, _prepare, fromAfter ? _listAfter : _listFrom, p, ReadRecord, retry: true, ct).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<bool> RecordFailedLoginAsync(string username, int maxFailures, DateTimeOffset lockUntil, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        var rows = await QueryAsync(_dataSource, _prepare, _recordFailure, [Text(username), Int(maxFailures), Instant(lockUntil)],
            r => r.GetBoolean(0), retry: false, ct).ConfigureAwait(false);
        return rows.Count == 1 && rows[0];
    }

    private static UserRecord ReadRecord(NpgsqlDataReader r) => new()
    {
        // Column order is Columns.
        Username = r.GetString(0),
        PasswordHash = r.GetString(1),
        Roles = r.GetString(2),
        FailedLogins = r.GetInt32(3),
        LockedUntil = NullableInstant(r, 4),
        CreatedAt = r.GetFieldValue<DateTimeOffset>(5),
        Suspended = r.GetBoolean(6),
    };

    // LIKE's metacharacters % and _, and the escape character itself, each taken literally.
    private static string EscapeLike(string literal) =>
        literal.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);
}
