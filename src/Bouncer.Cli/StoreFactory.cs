using Bouncer.Sessions;
using Bouncer.Stores.Sqlite;
using Microsoft.Data.Sqlite;

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
        // Wired by the integrator once Bouncer.Stores.Redis / Bouncer.Stores.Postgres are merged.
        "redis" => throw new NotSupportedException("The redis store is not wired yet."),
        "postgres" => throw new NotSupportedException("The postgres store is not wired yet."),
        _ => throw new ArgumentException($"Unknown store '{kind}'; expected one of: {string.Join(", ", Kinds)}."),
    };

    /// <summary>Disposes a store whichever dispose pattern it implements.</summary>
    public static async ValueTask DisposeAsync(ISessionStore store)
    {
        if (store is IAsyncDisposable a) await a.DisposeAsync().ConfigureAwait(false);
        else if (store is IDisposable d) d.Dispose();
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
}
