using Bouncer;
using Bouncer.Stores.Sqlite;
using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The SQLite backend of <see cref="BouncerBuilder"/>: every store on one database file.</summary>
public static class SqliteBouncerBuilderExtensions
{
    /// <summary>
    /// Keeps every store (sessions, refresh families, accounts, secrets, the revocation log, the audit trail) in one SQLite file. Other
    /// processes on the same file (a second server, the CLI) see the same data, and learn of revocations through a
    /// watched signal file in milliseconds, with a poll of the log behind it (<paramref name="revocationPollInterval"/>,
    /// default 250 ms; see <see cref="SqliteRevocationChannel"/>). Secrets are encrypted at rest
    /// with the key in a file beside the database (<c>bouncer.db</c>: <c>bouncer.key</c>, mode 0600, created on first
    /// start) unless <c>Bouncer:KeyEncryption</c> names another; back the two up apart.
    /// </summary>
    /// <param name="builder">The Bouncer builder.</param>
    /// <param name="pathOrConnectionString">A file path, or a Microsoft.Data.Sqlite connection string starting with
    /// <c>Data Source=</c>; with <c>Mode=ReadWrite</c> a missing file is an error instead of a new database.</param>
    /// <param name="revocationPollInterval">How often the log is polled for other processes' revocations behind the signal file's notification; null: 250 ms.</param>
    public static BouncerBuilder UseSqlite(this BouncerBuilder builder, string pathOrConnectionString, TimeSpan? revocationPollInterval = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pathOrConnectionString);
        return builder.UseStores(_ => Open(pathOrConnectionString, revocationPollInterval));
    }

    /// <summary>
    /// <see cref="UseSqlite(BouncerBuilder, string, TimeSpan?)"/> with the database named by configuration: at start it
    /// reads <c>ConnectionStrings:Bouncer</c> (or <c>ConnectionStrings:&lt;connectionStringName&gt;</c>) from
    /// <paramref name="configuration"/>, a file path or a connection string such as <c>Data Source=bouncer.db</c>.
    /// </summary>
    /// <param name="builder">The Bouncer builder.</param>
    /// <param name="configuration">The app's configuration root (<c>builder.Configuration</c>).</param>
    /// <param name="connectionStringName">The name under <c>ConnectionStrings</c>; default <c>Bouncer</c>.</param>
    /// <param name="revocationPollInterval">How often other processes' revocations are looked for; null: 250 ms.</param>
    /// <exception cref="InvalidOperationException">At start, when the setting is missing or blank: one line naming it.</exception>
    public static BouncerBuilder UseSqlite(this BouncerBuilder builder, IConfiguration configuration, string connectionStringName = "Bouncer", TimeSpan? revocationPollInterval = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.UseStores(configuration, connectionStringName, (_, connection) => Open(connection, revocationPollInterval));
    }

    private static BouncerStores Open(string pathOrConnectionString, TimeSpan? revocationPollInterval)
    {
        var set = SqliteBouncerStores.Open(pathOrConnectionString, revocationPollInterval);
        return new BouncerStores(set.Sessions, set.RefreshTokens, set.Users, set.Secrets, set.Revocations, set.Audit, "sqlite " + set.Sessions.DatabasePath, set)
        {
            // One machine: the key sits beside the database, so a copy of the database alone does not hold it.
            DefaultKeyFile = Path.ChangeExtension(set.Sessions.DatabasePath, ".key"),
        };
    }
}
