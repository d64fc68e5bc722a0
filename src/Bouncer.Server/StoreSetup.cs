namespace Bouncer.Server;

/// <summary>Picks the backend from <c>--store</c> and <c>--connection</c>: the same builder calls a user's app makes.</summary>
public static class StoreSetup
{
    /// <summary>The values <c>--store</c> accepts.</summary>
    public static readonly string[] Kinds = ["memory", "sqlite", "redis", "postgres"];

    /// <summary>The SQLite file used when none is named: <c>./data/bouncer.db</c>, beside where the server runs.</summary>
    public static readonly string DefaultSqlitePath = Path.Combine("data", "bouncer.db");

    /// <summary>
    /// Chooses the backend. SQLite defaults to <see cref="DefaultSqlitePath"/> (the folder is created); Redis and
    /// PostgreSQL need a connection string.
    /// </summary>
    /// <param name="builder">The Bouncer builder.</param>
    /// <param name="kind">memory, sqlite, redis or postgres.</param>
    /// <param name="connection">The connection string or SQLite path; null: the default (SQLite only).</param>
    /// <param name="prefix">Redis key prefix or PostgreSQL schema, so several deployments can share one server; null: the stores' defaults.</param>
    /// <exception cref="InvalidOperationException">Unknown store or missing connection string, with a message naming the setting.</exception>
    public static BouncerBuilder UseStore(this BouncerBuilder builder, string kind, string? connection, string? prefix = null)
    {
        switch (kind)
        {
            case "memory":
                return builder.UseMemory();
            case "sqlite":
                var path = connection ?? DefaultSqlitePath;
                if (!path.Contains('=')) Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
                return builder.UseSqlite(path);
            case "redis":
                if (string.IsNullOrWhiteSpace(connection)) throw new InvalidOperationException("--store redis needs --connection \"host:port\" (Bouncer:Connection).");
                return builder.UseRedis(connection, prefix ?? "bouncer:");
            case "postgres":
                if (string.IsNullOrWhiteSpace(connection)) throw new InvalidOperationException("--store postgres needs --connection \"Host=...;Username=...;Database=...\" (Bouncer:Connection).");
                return builder.UsePostgres(connection, prefix ?? "public");
            default:
                throw new InvalidOperationException($"Unknown store '{kind}': use one of {string.Join(", ", Kinds)} (Bouncer:Store).");
        }
    }
}
