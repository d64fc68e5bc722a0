using Bouncer.AspNetCore;
using Bouncer.Stores.Postgres;
using Bouncer.Stores.Redis;
using Bouncer.Stores.Sqlite;
using Npgsql;
using StackExchange.Redis;

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
    /// <param name="prefix">Redis key prefix or PostgreSQL schema, so several deployments can share one server; null: the stores' defaults.</param>
    public static BouncerStores Open(string kind, string? connection, string? prefix = null, TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
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
                var redisOptions = ConfigurationOptions.Parse(connection);
                redisOptions.AbortOnConnectFail = false;   // reconnect by itself after a restart
                var redis = ConnectionMultiplexer.Connect(redisOptions);
                var keys = new RedisStoreOptions { KeyPrefix = prefix ?? "bouncer:", TimeProvider = time };
                return new BouncerStores(new RedisSessionStore(redis, keys),
                    new RedisRefreshTokenStore(redis, keys), new RedisUserStore(redis, keys), new RedisSecretStore(redis, keys), new RedisRevocationChannel(redis, keys))
                {
                    // Fail at start with a clear message rather than at the first login.
                    Initialize = async ct =>
                    {
                        try { await redis.GetDatabase().PingAsync(); }
                        catch (RedisException ex) { throw new InvalidOperationException($"Redis at '{redisOptions.EndPoints.FirstOrDefault()}' is unreachable: {ex.Message}", ex); }
                    },
                };
            case "postgres":
                if (string.IsNullOrWhiteSpace(connection)) throw new InvalidOperationException("--store postgres needs --connection \"Host=...;Username=...;Database=...\" (Bouncer:Connection).");
                NpgsqlDataSource source;
                try { source = PostgresDataSources.Create(connection); }
                catch (ArgumentException ex) { throw new InvalidOperationException("Bouncer:Connection is not a valid PostgreSQL connection string: " + ex.Message, ex); }
                var schema = prefix ?? "public";
                var tables = new PostgresStoreOptions { Schema = schema };
                var sessions = new PostgresSessionStore(source, new PostgresSessionStoreOptions { Schema = schema });
                var refresh = new PostgresRefreshTokenStore(source, tables);
                var users = new PostgresUserStore(source, tables);
                var secrets = new PostgresSecretStore(source, tables);
                var revocations = new PostgresRevocationChannel(source, tables);
                return new BouncerStores(sessions, refresh, users, secrets, revocations)
                {
                    Initialize = async ct =>
                    {
                        try
                        {
                            await sessions.EnsureSchemaAsync(ct);
                            await refresh.EnsureSchemaAsync(ct);
                            await users.EnsureSchemaAsync(ct);
                            await secrets.EnsureSchemaAsync(ct);
                            await revocations.EnsureSchemaAsync(ct);
                        }
                        catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException)
                        {
                            throw new InvalidOperationException($"PostgreSQL at '{source.ConnectionString.Split(';').FirstOrDefault(p => p.StartsWith("Host", StringComparison.OrdinalIgnoreCase))}' is unreachable or refused the schema: {ex.Message}", ex);
                        }
                    },
                };
            default:
                throw new InvalidOperationException($"Unknown store '{kind}': use one of {string.Join(", ", Kinds)} (Bouncer:Store).");
        }
    }
}
