using Bouncer;
using Bouncer.Stores.Postgres;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The PostgreSQL backend of <see cref="BouncerBuilder"/>: every store in one schema.</summary>
public static class PostgresBouncerBuilderExtensions
{
    // How start-up errors name the setting at fault in an app (a host rewords it: the server says Bouncer:Connection).
    private const string Setting = "UsePostgres connectionString";
    private const string PoolerSetting = "UsePostgresBehindTransactionPooler connectionString";
    private const string ListenSetting = "UsePostgresBehindTransactionPooler listenConnectionString";

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
        catch (ArgumentException ex) { throw new BouncerConfigurationException(Setting, "not a valid PostgreSQL connection string: " + ex.Message, ex); }
        try
        {
            return Create(source, source, schema, owned: true, ensureSchema, preparedStatements: true, Setting);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <summary>
    /// For PostgreSQL behind a transaction pooler (PgBouncer <c>pool_mode = transaction</c>): every store works over
    /// <paramref name="connectionString"/> (the pooler) without server-side prepared statements, which a transaction
    /// pooler cannot carry from one transaction to the next, while revocation pushes LISTEN over
    /// <paramref name="listenConnectionString"/>, which must reach PostgreSQL directly (or through session pooling):
    /// LISTEN belongs to a server session, which a transaction pooler lends to other clients between transactions.
    /// Behind a pooler in session pooling <c>UsePostgres</c> works as is. A method of its own, not an overload of
    /// <c>UsePostgres</c>: a second string there would read as the schema. See <c>docs/postgres.md</c>.
    /// </summary>
    /// <example>
    /// <code>
    /// builder.Services.AddBouncer().UsePostgresBehindTransactionPooler(
    ///     "Host=pgbouncer;Port=6432;Username=bouncer;Database=app",   // pool_mode = transaction
    ///     listenConnectionString: "Host=db;Port=5432;Username=bouncer;Database=app");
    /// </code>
    /// </example>
    public static BouncerBuilder UsePostgresBehindTransactionPooler(this BouncerBuilder builder, string connectionString, string listenConnectionString, string schema = "public", bool ensureSchema = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentException.ThrowIfNullOrWhiteSpace(listenConnectionString);
        return builder.UseStores(_ =>
        {
            NpgsqlDataSource? source = null, listen = null;
            try
            {
                try { source = PostgresDataSources.Create(connectionString); }
                catch (ArgumentException ex) { throw new BouncerConfigurationException(PoolerSetting, "not a valid PostgreSQL connection string: " + ex.Message, ex); }
                try { listen = PostgresDataSources.Create(listenConnectionString); }
                catch (ArgumentException ex) { throw new BouncerConfigurationException(ListenSetting, "not a valid PostgreSQL connection string: " + ex.Message, ex); }
                return Create(source, listen, schema, owned: true, ensureSchema, preparedStatements: false, PoolerSetting);
            }
            catch
            {
                listen?.Dispose();
                source?.Dispose();
                throw;
            }
        });
    }

    /// <summary>Keeps every store on an existing data source (the app's own, which it disposes).</summary>
    public static BouncerBuilder UsePostgres(this BouncerBuilder builder, NpgsqlDataSource dataSource, string schema = "public", bool ensureSchema = true)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        return builder.UseStores(_ => Create(dataSource, dataSource, schema, owned: false, ensureSchema, preparedStatements: true, "UsePostgres dataSource"));
    }

    private static BouncerStores Create(NpgsqlDataSource source, NpgsqlDataSource listen, string schema, bool owned, bool ensureSchema, bool preparedStatements, string setting)
    {
        var tables = new PostgresStoreOptions { Schema = schema, PreparedStatements = preparedStatements };
        var sessions = new PostgresSessionStore(source, new PostgresSessionStoreOptions { Schema = schema, PreparedStatements = preparedStatements });
        var refresh = new PostgresRefreshTokenStore(source, tables);
        var users = new PostgresUserStore(source, tables);
        var secrets = new PostgresSecretStore(source, tables);
        var revocations = new PostgresRevocationChannel(source, listen, tables);
        var audit = new PostgresAuditStore(source, tables);
        // Where, for logs and errors: host, port and database, never the user or password.
        var parts = new NpgsqlConnectionStringBuilder(source.ConnectionString);
        var host = $"{parts.Host}:{parts.Port}/{parts.Database}";
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
            throw new BouncerConfigurationException(setting, $"PostgreSQL at '{host}' is unreachable or refused the schema: {ex.Message}", ex);
        }
        return new BouncerStores(sessions, refresh, users, secrets, revocations, audit, $"postgres {host} schema {schema}", !owned ? [] : ReferenceEquals(listen, source) ? [source] : [source, listen]);
    }
}
