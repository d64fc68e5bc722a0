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

    private const string Columns = "username, password_hash, roles, failed_logins, locked_until, created_at";

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _prepare;
    private readonly PostgresStoreOptions _options;
    private readonly string _insert, _get, _update, _recordFailure;

    /// <summary>A store over <paramref name="dataSource"/>, which the caller keeps owning (and disposes).</summary>
    /// <exception cref="ArgumentException">The schema name in <paramref name="options"/> is not a plain identifier.</exception>
    public PostgresUserStore(NpgsqlDataSource dataSource, PostgresStoreOptions? options = null)
    {
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _options = options ?? new PostgresStoreOptions();
        _options.Validate();
        _prepare = CanPrepare(dataSource);
        var table = $"\"{_options.Schema}\".\"{TableName}\"";

        // ON CONFLICT DO NOTHING: of two racing registrations the second waits for the first to commit,
        // then inserts nothing (0 rows) instead of failing: one winner, no exception to translate.
        _insert = $"INSERT INTO {table} ({Columns}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO NOTHING";
        _get = $"SELECT {Columns} FROM {table} WHERE username = $1";
        // The password hash and creation time are never changed here: an update carries login state only.
        _update = $"UPDATE {table} SET roles = $2, failed_logins = $3, locked_until = $4 WHERE username = $1";
        // One statement, so the row lock makes racing failures count one by one. The count returns to 0 only when
        // this failure locks the account, which is how the caller learns that it did.
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
        PostgresStatements.EnsureSchemaAsync(_dataSource, _options.Schema, SchemaSql(_options), ct);

    /// <summary>The CREATE TABLE statement for <paramref name="options"/> (idempotent).</summary>
    public static string SchemaSql(PostgresStoreOptions options)
    {
        options.Validate();
        return $"""
            CREATE TABLE IF NOT EXISTS "{options.Schema}"."{TableName}" (
                username text PRIMARY KEY,
                password_hash text NOT NULL,
                roles text NOT NULL DEFAULT '',
                failed_logins integer NOT NULL DEFAULT 0,
                locked_until timestamptz,
                created_at timestamptz NOT NULL
            );
            """;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> CreateAsync(UserRecord user, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(user);
        NpgsqlParameter[] p =
        [
            Text(user.Username), Text(user.PasswordHash), Text(user.Roles), Int(user.FailedLogins),
            Instant(user.LockedUntil), Instant(user.CreatedAt),
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
        NpgsqlParameter[] p = [Text(user.Username), Text(user.Roles), Int(user.FailedLogins), Instant(user.LockedUntil)];
        return await ExecuteAsync(_dataSource, _prepare, _update, p, ct).ConfigureAwait(false) == 1;
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
    };
}
