using Bouncer.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Bouncer.Cli;

/// <summary>
/// The CLI's engine, composed exactly as the server composes its own (<c>AddBouncerCore().UseSqlite(...)</c> and the
/// other backends): a command calls the engine, so every change it makes is stored, announced to running servers and
/// audited like theirs. No near cache (a command is one short process). Dispose it to close the store.
/// </summary>
public sealed class BouncerConnection : IAsyncDisposable
{
    /// <summary>The values <c>--store</c> accepts.</summary>
    public static readonly string[] Kinds = ["memory", "sqlite", "redis", "postgres"];

    /// <summary>The server's default SQLite file, relative to where it runs: the CLI's default when run beside it.</summary>
    public static readonly string DefaultSqlitePath = Path.Combine("data", "bouncer.db");

    private readonly ServiceProvider _services;

    private BouncerConnection(ServiceProvider services) => _services = services;

    /// <summary>Resolves an engine service (<see cref="Sessions.SessionManager"/>, <see cref="Access.AccessManager"/>, ...).</summary>
    public T Get<T>() where T : notnull => _services.GetRequiredService<T>();

    /// <summary>
    /// Composes the engine on the backend named by <paramref name="kind"/> and opens it, so a bad connection fails here.
    /// </summary>
    /// <param name="kind">memory, sqlite, redis or postgres.</param>
    /// <param name="connection">The connection string; for sqlite a path or <c>Data Source=</c> string (default <see cref="DefaultSqlitePath"/>).</param>
    /// <param name="configure">Engine options for this command, e.g. a sweep batch size.</param>
    /// <param name="listenConnection">postgres only (the server's <c>Bouncer:ListenConnection</c>): a direct connection for
    /// LISTEN when <paramref name="connection"/> is a transaction pooler; every store call then goes through the pooler
    /// without prepared statements. Null: one connection for everything.</param>
    /// <exception cref="ArgumentException">Unknown kind, a missing or malformed connection string, or a listen
    /// connection for a store other than postgres.</exception>
    public static BouncerConnection Open(string kind, string? connection, Action<BouncerEngineOptions>? configure = null, string? listenConnection = null)
    {
        if (!string.IsNullOrWhiteSpace(listenConnection) && kind != "postgres")
            throw new ArgumentException($"--listen-connection applies to the postgres store only, not '{kind}'.");
        var services = new ServiceCollection();
        var bouncer = services.AddBouncerCore(o =>
        {
            o.NearCache = null;
            configure?.Invoke(o);
        });
        switch (kind)
        {
            case "memory":
                bouncer.UseMemory();
                break;
            case "sqlite":
                bouncer.UseSqlite(ExistingSqlite(connection ?? DefaultSqlitePath));
                break;
            case "redis":
                if (string.IsNullOrWhiteSpace(connection)) throw new ArgumentException("--connection is required for the redis store (\"host:port[,password=...]\").");
                // An admin command on an unreachable server must fail at once, not wait for a reconnect.
                bouncer.UseRedis(connection + ",abortConnect=true,connectTimeout=3000");   // UseRedis keeps an explicit abortConnect
                break;
            case "postgres":
                if (string.IsNullOrWhiteSpace(connection)) throw new ArgumentException("--connection is required for the postgres store (\"Host=...;Username=...;Database=...\").");
                // An operator command never runs DDL: it works with the rights to read and change rows, and a mistyped
                // database is an error instead of a new set of empty tables.
                // Behind a transaction pooler a prepared statement is missing on the next server connection (26000).
                if (string.IsNullOrWhiteSpace(listenConnection)) bouncer.UsePostgres(connection, ensureSchema: false);
                else bouncer.UsePostgresBehindTransactionPooler(connection, listenConnection, ensureSchema: false);
                break;
            default:
                throw new ArgumentException($"Unknown store '{kind}'; expected one of: {string.Join(", ", Kinds)}.");
        }
        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = false, ValidateScopes = true });
        try
        {
            provider.GetRequiredService<BouncerStores>();
        }
        catch
        {
            provider.Dispose();
            throw;
        }
        // The audit trail names the CLI as the actor of every change it makes.
        BouncerCaller.Current = new BouncerCaller { Actor = "cli" };
        return new BouncerConnection(provider);
    }

    // An admin command on a mistyped path must fail, not create an empty database and report nothing.
    private static string ExistingSqlite(string connection)
    {
        var builder = IsConnectionString(connection)
            ? new SqliteConnectionStringBuilder(connection)
            : new SqliteConnectionStringBuilder { DataSource = connection };
        if (builder.Mode == SqliteOpenMode.ReadWriteCreate) builder.Mode = SqliteOpenMode.ReadWrite;
        return builder.ToString();
    }

    // The same rule as the SQLite stores: a path may itself contain '='.
    private static bool IsConnectionString(string s) =>
        s.TrimStart() is var t && (t.StartsWith("Data Source=", StringComparison.OrdinalIgnoreCase)
            || t.StartsWith("DataSource=", StringComparison.OrdinalIgnoreCase)
            || t.StartsWith("Filename=", StringComparison.OrdinalIgnoreCase));

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => _services.DisposeAsync();
}
