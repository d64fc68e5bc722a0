using Bouncer.Users;
using Npgsql;
using static Bouncer.Stores.Postgres.PostgresStatements;

namespace Bouncer.Stores.Postgres;

/// <summary>
/// An <see cref="ISecretStore"/> over PostgreSQL: one row per name in <c>bouncer_secrets</c>. Values may
/// be secrets (signing keys): they travel only as parameters and are never logged or put in exceptions.
/// </summary>
/// <remarks>
/// Thread-safe: each call takes its own pooled connection. On a connection fault the pool is cleared;
/// <see cref="GetAsync"/> is retried once, writes are not.
/// </remarks>
public sealed class PostgresSecretStore : ISecretStore
{
    /// <summary>The table's name inside <see cref="PostgresStoreOptions.Schema"/>.</summary>
    public const string TableName = "bouncer_secrets";

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _prepare;
    private readonly PostgresStoreOptions _options;
    private readonly string _get, _add, _set, _replace;

    /// <summary>A store over <paramref name="dataSource"/>, which the caller keeps owning (and disposes).</summary>
    /// <exception cref="ArgumentException">The schema name in <paramref name="options"/> is not a plain identifier.</exception>
    public PostgresSecretStore(NpgsqlDataSource dataSource, PostgresStoreOptions? options = null)
    {
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _options = options ?? new PostgresStoreOptions();
        _options.Validate();
        _prepare = _options.PreparedStatements && CanPrepare(dataSource);
        var table = $"\"{_options.Schema}\".\"{TableName}\"";

        _get = $"SELECT value FROM {table} WHERE name = $1";
        // Returns the value only when this call inserted it. A racing insert of the same name makes this
        // one wait for it to commit, then insert nothing; the winner's value is read by _get afterwards,
        // in a new statement: a SELECT inside this statement would use its snapshot, taken before the
        // winner committed, and find nothing.
        _add = $"INSERT INTO {table} (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING value";
        _set = $"INSERT INTO {table} (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value";
        _replace = $"UPDATE {table} SET value = $3 WHERE name = $1 AND value = $2";
    }

    /// <summary>The schema this store uses.</summary>
    public PostgresStoreOptions Options => _options;

    /// <summary>Creates the schema (when missing) and the table when missing; safe to call from many processes at once.</summary>
    public Task EnsureSchemaAsync(CancellationToken ct = default) =>
        PostgresStatements.EnsureSchemaAsync(_dataSource, TableSchema(_options), ct);

    /// <summary>The CREATE TABLE statement for <paramref name="options"/> (idempotent).</summary>
    public static string SchemaSql(PostgresStoreOptions options) => TableSchema(options).ToSql();

    private static PostgresTableSchema TableSchema(PostgresStoreOptions options)
    {
        options.Validate();
        return new(options.Schema, TableName, $"""
            CREATE TABLE IF NOT EXISTS "{options.Schema}"."{TableName}" (
                name text PRIMARY KEY,
                value text NOT NULL
            );
            """, [], []);
    }

    /// <inheritdoc/>
    public async ValueTask<string?> GetAsync(string name, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(name);
        var rows = await QueryAsync(_dataSource, _prepare, _get, [Text(name)], r => r.GetString(0), retry: true, ct).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <inheritdoc/>
    public async ValueTask<string> GetOrAddAsync(string name, string value, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(value);
        // Read first: every instance calls this at startup and the value nearly always exists, so the
        // common path is a plain read. The loop repeats only if the winner's row was deleted by hand
        // between the failed insert and the read.
        while (true)
        {
            if (await GetAsync(name, ct).ConfigureAwait(false) is { } existing) return existing;
            var added = await QueryAsync(_dataSource, _prepare, _add, [Text(name), Text(value)], r => r.GetString(0), retry: false, ct).ConfigureAwait(false);
            if (added.Count == 1) return added[0];
        }
    }

    /// <inheritdoc/>
    public async ValueTask SetAsync(string name, string value, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(value);
        await ExecuteAsync(_dataSource, _prepare, _set, [Text(name), Text(value)], ct).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<bool> ReplaceAsync(string name, string expected, string value, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(value);
        return await ExecuteAsync(_dataSource, _prepare, _replace, [Text(name), Text(expected), Text(value)], ct).ConfigureAwait(false) == 1;
    }
}
