using Bouncer;
using Bouncer.Stores.Postgres;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The PostgreSQL backend of <see cref="BouncerBuilder"/>: every store in one schema.</summary>
public static class PostgresBouncerBuilderExtensions
{
    /// <summary>
    /// Connects with an Npgsql connection string and keeps every store in <paramref name="schema"/>, creating the
    /// tables when missing; revocations travel over LISTEN/NOTIFY. An unreachable server or a refused schema at start
    /// is an error naming the host. With <paramref name="ensureSchema"/> false nothing is created: a least-privilege
    /// role (no CREATE on the schema) works against tables an administrator made (docs/postgres.md has the DDL).
    /// </summary>
    public static BouncerBuilder UsePostgres(this BouncerBuilder builder, string connectionString, string schema = "public", bool ensureSchema = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        return builder.UseStores(_ => Connect(connectionString, schema, ensureSchema));
    }

    /// <summary>
    /// <see cref="UsePostgres(BouncerBuilder, string, string, bool)"/> with the database named by configuration: at
    /// start it reads <c>ConnectionStrings:Bouncer</c> (or <c>ConnectionStrings:&lt;connectionStringName&gt;</c>) from
    /// <paramref name="configuration"/>, an Npgsql connection string such as <c>Host=db;Database=app;Username=bouncer</c>.
    /// </summary>
    /// <param name="builder">The Bouncer builder.</param>
    /// <param name="configuration">The app's configuration root (<c>builder.Configuration</c>).</param>
    /// <param name="connectionStringName">The name under <c>ConnectionStrings</c>; default <c>Bouncer</c>.</param>
    /// <param name="schema">The schema of every table.</param>
    /// <param name="ensureSchema">Create missing tables; false for a role without CREATE (docs/postgres.md).</param>
    /// <exception cref="InvalidOperationException">At start, when the setting is missing, blank or not a PostgreSQL
    /// connection string, or the server is unreachable: one line naming it.</exception>
    public static BouncerBuilder UsePostgres(this BouncerBuilder builder, IConfiguration configuration, string connectionStringName = "Bouncer", string schema = "public", bool ensureSchema = true)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.UseStores(configuration, connectionStringName, (_, connection) => Connect(connection, schema, ensureSchema));
    }

    private static BouncerStores Connect(string connectionString, string schema, bool ensureSchema)
    {
        NpgsqlDataSource source;
        try { source = PostgresDataSources.Create(connectionString); }
        catch (ArgumentException ex) { throw new InvalidOperationException("The connection string is not a valid PostgreSQL connection string: " + ex.Message, ex); }
        try
        {
            return Create(source, schema, owned: true, ensureSchema);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <summary>Keeps every store on an existing data source (the app's own, which it disposes).</summary>
    public static BouncerBuilder UsePostgres(this BouncerBuilder builder, NpgsqlDataSource dataSource, string schema = "public", bool ensureSchema = true)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        return builder.UseStores(_ => Create(dataSource, schema, owned: false, ensureSchema));
    }

    private static BouncerStores Create(NpgsqlDataSource source, string schema, bool owned, bool ensureSchema)
    {
        var tables = new PostgresStoreOptions { Schema = schema };
        var sessions = new PostgresSessionStore(source, new PostgresSessionStoreOptions { Schema = schema });
        var refresh = new PostgresRefreshTokenStore(source, tables);
        var users = new PostgresUserStore(source, tables);
        var secrets = new PostgresSecretStore(source, tables);
        var revocations = new PostgresRevocationChannel(source, tables);
        var audit = new PostgresAuditStore(source, tables);
        var host = new NpgsqlConnectionStringBuilder(source.ConnectionString).Host;
        if (ensureSchema) try
        {
            // Ready when resolved: the tables exist before any engine service reads them.
            sessions.EnsureSchemaAsync().GetAwaiter().GetResult();
            refresh.EnsureSchemaAsync().GetAwaiter().GetResult();
            users.EnsureSchemaAsync().GetAwaiter().GetResult();
            secrets.EnsureSchemaAsync().GetAwaiter().GetResult();
            revocations.EnsureSchemaAsync().GetAwaiter().GetResult();
            audit.EnsureSchemaAsync().GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException)
        {
            throw new InvalidOperationException($"PostgreSQL at '{host}' is unreachable or refused the schema: {ex.Message}", ex);
        }
        return new BouncerStores(sessions, refresh, users, secrets, revocations, audit, $"postgres {host} schema {schema}", owned ? [source] : []);
    }
}
