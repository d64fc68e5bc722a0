using Bouncer.AspNetCore;
using Bouncer.Refresh;
using Bouncer.Revocation;
using Bouncer.Stores.Postgres;
using Bouncer.Stores.Redis;
using Bouncer.Stores.Sqlite;
using Bouncer.Users;

namespace Bouncer.Server;

/// <summary>Builds the deployment's stores from <c>--store</c> and <c>--connection</c>.</summary>
public static class StoreSetup
{
    public static readonly string[] Kinds = ["memory", "sqlite", "redis", "postgres"];

    /// <summary>
    /// Opens the stores. SQLite defaults to <c>./data/bouncer.db</c> (the folder is created); Redis and
    /// PostgreSQL need a connection string.
    /// </summary>
    /// <exception cref="InvalidOperationException">Unknown store or missing connection string, with a message naming the setting.</exception>
    public static BouncerStores Open(string kind, string? connection)
    {
        switch (kind)
        {
            case "memory":
                return BouncerStores.InMemory();
            case "sqlite":
                var path = connection ?? Path.Combine("data", "bouncer.db");
                if (!path.Contains('=')) Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
                var sqlite = SqliteBouncerStores.Open(path);
                return new BouncerStores(sqlite.Sessions, sqlite.RefreshTokens, sqlite.Users, sqlite.Secrets, sqlite.Revocations);
            case "redis":
                if (string.IsNullOrWhiteSpace(connection)) throw new InvalidOperationException("--store redis needs --connection \"host:port\" (Bouncer:Connection).");
                return new BouncerStores(new RedisSessionStore(connection), new MemoryRefreshTokenStore(), new MemoryUserStore(), new MemorySecretStore(), new InProcessRevocationChannel());
            case "postgres":
                if (string.IsNullOrWhiteSpace(connection)) throw new InvalidOperationException("--store postgres needs --connection \"Host=...;Username=...;Database=...\" (Bouncer:Connection).");
                var pg = new PostgresSessionStore(connection);
                return new BouncerStores(pg, new MemoryRefreshTokenStore(), new MemoryUserStore(), new MemorySecretStore(), new InProcessRevocationChannel())
                {
                    Initialize = ct => pg.EnsureSchemaAsync(ct),
                };
            default:
                throw new InvalidOperationException($"Unknown store '{kind}': use one of {string.Join(", ", Kinds)} (Bouncer:Store).");
        }
    }
}
