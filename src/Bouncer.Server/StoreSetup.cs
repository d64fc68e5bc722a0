namespace Bouncer.Server;

/// <summary>Picks the backend from <c>--store</c> and <c>--connection</c>: the same builder calls a user's app makes.</summary>
public static class StoreSetup
{
    /// <summary>The values <c>--store</c> accepts.</summary>
    public static readonly string[] Kinds = ["memory", "sqlite", "redis", "postgres"];

    /// <summary>The SQLite file used when none is named: <c>./data/bouncer.db</c>, beside where the server runs.</summary>
    public static readonly string DefaultSqlitePath = Path.Combine("data", "bouncer.db");

    /// <summary>
    /// Chooses the backend. SQLite defaults to <see cref="DefaultSqlitePath"/>, whose folder is created if missing
    /// (mode 0700 on Unix); a path named by <c>--connection</c> must be in an existing folder. Redis and
    /// PostgreSQL need a connection string.
    /// </summary>
    /// <param name="builder">The Bouncer builder.</param>
    /// <param name="kind">memory, sqlite, redis or postgres.</param>
    /// <param name="connection">The connection string or SQLite path; null: the default (SQLite only).</param>
    /// <param name="prefix">Redis key prefix or PostgreSQL schema, so several deployments can share one server; null: the stores' defaults.</param>
    /// <param name="listenConnection">PostgreSQL only (<c>Bouncer:ListenConnection</c>): a direct connection string for the
    /// revocation channel's LISTEN, for when <paramref name="connection"/> is a transaction pooler (PgBouncer
    /// <c>pool_mode = transaction</c>); then every store call goes through the pooler without prepared statements. Null:
    /// one connection for everything.</param>
    /// <exception cref="InvalidOperationException">Unknown store, missing connection string, a listen connection for a
    /// store other than postgres, or a SQLite file in a missing folder, with a message naming the setting.</exception>
    public static BouncerBuilder UseStore(this BouncerBuilder builder, string kind, string? connection, string? prefix = null, string? listenConnection = null)
    {
        if (!string.IsNullOrWhiteSpace(listenConnection) && kind != "postgres")
            throw new InvalidOperationException($"Bouncer:ListenConnection: only the postgres store takes a separate LISTEN connection, not '{kind}'.");
        switch (kind)
        {
            case "memory":
                return builder.UseMemory();
            case "sqlite":
                if (connection is null) CreateDefaultFolder();
                else CheckFolderExists(connection);
                return builder.UseSqlite(connection ?? DefaultSqlitePath);
            case "redis":
                if (string.IsNullOrWhiteSpace(connection)) throw new InvalidOperationException("--store redis needs --connection \"host:port\" (Bouncer:Connection).");
                return NamedAsConnection(builder.UseRedis(connection, prefix ?? "bouncer:"));
            case "postgres":
                if (string.IsNullOrWhiteSpace(connection)) throw new InvalidOperationException("--store postgres needs --connection \"Host=...;Username=...;Database=...\" (Bouncer:Connection).");
                // LISTEN needs a server session of its own, which a transaction pooler lends to other clients between
                // transactions: behind one, the listen connection goes to PostgreSQL directly (docs/postgres.md).
                return NamedAsConnection(string.IsNullOrWhiteSpace(listenConnection)
                    ? builder.UsePostgres(connection, prefix ?? "public")
                    : builder.UsePostgresBehindTransactionPooler(connection, listenConnection, prefix ?? "public"));
            default:
                throw new InvalidOperationException($"Unknown store '{kind}': use one of {string.Join(", ", Kinds)} (Bouncer:Store).");
        }
    }

    // The backend's start-up errors name its builder argument; here the operator typed Bouncer:Connection (--connection)
    // or, for the LISTEN connection behind a pooler, Bouncer:ListenConnection.
    private static BouncerBuilder NamedAsConnection(BouncerBuilder builder)
    {
        var factory = builder.Services.Last(d => d.ServiceType == typeof(BouncerStores)).ImplementationFactory!;
        return builder.UseStores(sp =>
        {
            try
            {
                return (BouncerStores)factory(sp);
            }
            catch (BouncerConfigurationException ex)
            {
                throw new BouncerConfigurationException(ex.Setting.EndsWith("listenConnectionString", StringComparison.Ordinal) ? "Bouncer:ListenConnection" : "Bouncer:Connection", ex.Problem, ex);
            }
        });
    }

    // Only the default location is made here, owner-only: it holds password hashes and signing secrets. An existing
    // folder keeps its mode.
    private static void CreateDefaultFolder()
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(DefaultSqlitePath))!;
        if (Directory.Exists(folder)) return;
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(folder);
        else Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    // A named path is the operator's: a missing folder is more likely a typo or an unmounted volume than a wish
    // for new folders (made with root's umask), so it is refused at start.
    private static void CheckFolderExists(string connection)
    {
        var file = connection.Contains('=') ? new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(connection).DataSource : connection;
        // Empty, :memory:, file: URIs and |DataDirectory| are the store's to judge.
        if (file is "" or ":memory:" || file.StartsWith("file:", StringComparison.OrdinalIgnoreCase) || file.Contains('|')) return;
        var folder = Path.GetDirectoryName(Path.GetFullPath(file));
        if (folder is not null && !Directory.Exists(folder))
            throw new InvalidOperationException($"Bouncer:Connection: the folder '{folder}' of the SQLite file does not exist; create it (mode 0700) or name another path.");
    }
}
