using Bouncer.Revocation;
using Bouncer.Sessions;
using Bouncer.Stores.Postgres;
using Bouncer.Stores.Redis;
using Npgsql;
using Bouncer.Stores.Sqlite;
using Microsoft.Data.Sqlite;
using StackExchange.Redis;

namespace Bouncer.Cli;

/// <summary>Opens the session store named by <c>--store</c> and <c>--connection</c>.</summary>
public static class StoreFactory
{
    /// <summary>The values <c>--store</c> accepts.</summary>
    public static readonly string[] Kinds = ["memory", "sqlite", "redis", "postgres"];

    /// <summary>Opens a store; the caller disposes it with <see cref="DisposeAsync"/>.</summary>
    /// <exception cref="ArgumentException">Unknown kind, or a missing or malformed connection string.</exception>
    /// <exception cref="NotSupportedException">The backend is not wired into the CLI.</exception>
    /// <exception cref="SqliteSessionStoreException">The SQLite file is missing, unreadable or corrupt.</exception>
    public static ISessionStore Open(string kind, string? connection) => kind switch
    {
        "memory" => new MemorySessionStore(),
        "sqlite" => OpenSqlite(connection),
        "redis" => OpenRedis(connection),
        "postgres" => OpenPostgres(connection),
        _ => throw new ArgumentException($"Unknown store '{kind}'; expected one of: {string.Join(", ", Kinds)}."),
    };

    /// <summary>Disposes a store whichever dispose pattern it implements.</summary>
    public static async ValueTask DisposeAsync(ISessionStore store)
    {
        if (store is IAsyncDisposable a) await a.DisposeAsync().ConfigureAwait(false);
        else if (store is IDisposable d) d.Dispose();
    }

    // A running server's near cache learns of a CLI revoke through the same push: the CLI publishes on
    // the deployment's revocation channel like any other instance.
    private static ISessionStore OpenRedis(string? connection)
    {
        if (string.IsNullOrWhiteSpace(connection))
            throw new ArgumentException("--connection is required for the redis store (\"host:port[,password=...]\").");
        var options = ConfigurationOptions.Parse(connection);
        options.AbortOnConnectFail = true;   // an admin command on an unreachable server must fail at once
        options.ConnectTimeout = 3000;
        var redis = ConnectionMultiplexer.Connect(options);
        var store = new PublishingSessionStore(new RedisSessionStore(redis), new RedisRevocationChannel(redis));
        return new OwningSessionStore(store, redis);
    }

    private static ISessionStore OpenPostgres(string? connection)
    {
        if (string.IsNullOrWhiteSpace(connection))
            throw new ArgumentException("--connection is required for the postgres store (\"Host=...;Username=...;Database=...\").");
        var source = PostgresDataSources.Create(connection);
        var store = new PublishingSessionStore(new PostgresSessionStore(source), new PostgresRevocationChannel(source));
        return new OwningSessionStore(store, source);
    }

    private static SqliteSessionStore OpenSqlite(string? connection)
    {
        if (string.IsNullOrWhiteSpace(connection))
            throw new ArgumentException("--connection is required for the sqlite store (a file path or \"Data Source=...\").");
        var builder = IsConnectionString(connection)
            ? new SqliteConnectionStringBuilder(connection)
            : new SqliteConnectionStringBuilder { DataSource = connection };
        // An admin command on a mistyped path must fail, not create an empty database and report nothing.
        if (builder.Mode == SqliteOpenMode.ReadWriteCreate) builder.Mode = SqliteOpenMode.ReadWrite;
        return new SqliteSessionStore(builder.ToString());
    }

    // The same rule as SqliteSessionStore's constructor: a path may itself contain '='.
    private static bool IsConnectionString(string s) =>
        s.TrimStart() is var t && (t.StartsWith("Data Source=", StringComparison.OrdinalIgnoreCase)
            || t.StartsWith("DataSource=", StringComparison.OrdinalIgnoreCase)
            || t.StartsWith("Filename=", StringComparison.OrdinalIgnoreCase));

    /// <summary>A store that also closes the connections it was opened with.</summary>
    private sealed class OwningSessionStore(ISessionStore inner, params IDisposable[] owned) : ISessionStore, IDisposable
    {
        public ValueTask<SessionRecord?> GetAsync(SessionKey key, CancellationToken ct) => inner.GetAsync(key, ct);
        public ValueTask CreateAsync(SessionRecord record, CancellationToken ct) => inner.CreateAsync(record, ct);
        public ValueTask<bool> UpdateAsync(SessionRecord record, CancellationToken ct) => inner.UpdateAsync(record, ct);
        public ValueTask<bool> TouchAsync(SessionRecord record, CancellationToken ct) => inner.TouchAsync(record, ct);
        public ValueTask<bool> RotateAsync(SessionKey oldKey, SessionRecord next, CancellationToken ct) => inner.RotateAsync(oldKey, next, ct);
        public ValueTask<bool> DeleteAsync(SessionKey key, CancellationToken ct) => inner.DeleteAsync(key, ct);
        public ValueTask<int> DeleteUserAsync(string userId, CancellationToken ct) => inner.DeleteUserAsync(userId, ct);
        public ValueTask<IReadOnlyList<SessionRecord>> ListUserAsync(string userId, CancellationToken ct) => inner.ListUserAsync(userId, ct);
        public ValueTask<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken ct) => inner.SweepAsync(now, batchSize, ct);

        public void Dispose()
        {
            foreach (var o in owned) o.Dispose();
        }
    }
}
