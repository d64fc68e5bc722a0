namespace Bouncer.Stores.Sqlite;

/// <summary>Opens every Bouncer store on one SQLite database file.</summary>
/// <example>
/// <code>
/// await using var stores = SqliteBouncerStores.Open("/var/lib/myapp/bouncer.db");
/// var sessions = new SessionManager(stores.Sessions, TimeProvider.System);
/// </code>
/// </example>
public static class SqliteBouncerStores
{
    /// <summary>
    /// Opens (creating if needed) <paramref name="pathOrConnectionString"/> and every table under its default
    /// name. The refresh, user, secret, revocation and audit stores share one writer connection (their writes queue
    /// in process); the session store keeps its own. Dispose the result to close them all.
    /// </summary>
    /// <param name="pathOrConnectionString">A file path, or a Microsoft.Data.Sqlite connection string
    /// starting with <c>Data Source=</c> (or <c>DataSource=</c>, <c>Filename=</c>).</param>
    /// <param name="revocationPollInterval">See <see cref="SqliteRevocationChannel"/>; null: 250 ms.</param>
    /// <exception cref="ArgumentException">An in-memory database.</exception>
    /// <exception cref="SqliteStoreException">The file cannot be opened or is not a SQLite database.</exception>
    public static SqliteStoreSet Open(string pathOrConnectionString, TimeSpan? revocationPollInterval = null)
    {
        var db = new SqliteDatabase(pathOrConnectionString);
        SqliteSessionStore? sessions = null;
        try
        {
            sessions = new SqliteSessionStore(pathOrConnectionString);
            return new SqliteStoreSet(
                sessions,
                new SqliteRefreshTokenStore(db, SqliteRefreshTokenStore.DefaultTableName, ownsDatabase: false),
                new SqliteUserStore(db, SqliteUserStore.DefaultTableName, ownsDatabase: false),
                new SqliteSecretStore(db, SqliteSecretStore.DefaultTableName, ownsDatabase: false),
                new SqliteRevocationChannel(db, SqliteRevocationChannel.DefaultTableName, revocationPollInterval, ownsDatabase: false),
                new SqliteAuditStore(db, SqliteAuditStore.DefaultTableName, ownsDatabase: false),
                db);
        }
        catch
        {
            sessions?.Dispose();
            db.Dispose();
            throw;
        }
    }
}
