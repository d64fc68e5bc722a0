namespace Bouncer.Stores.Postgres;

/// <summary>
/// Where the refresh-token, revocation, user, secret and audit stores keep their tables. Their table names are
/// fixed (<c>bouncer_refresh_tokens</c>, <c>bouncer_revocations</c>, <c>bouncer_users</c>,
/// <c>bouncer_secrets</c>, <c>bouncer_audit</c>); only the schema varies, as with <see cref="PostgresSessionStoreOptions.Schema"/>.
/// </summary>
public sealed class PostgresStoreOptions
{
    /// <summary>Schema of the tables (default <c>public</c>). A lowercase SQL identifier of at most 50 chars.</summary>
    public string Schema { get; init; } = "public";

    /// <summary>
    /// Whether statements are prepared on the server (default true: one parse per connection, not per call). Set
    /// false when the data source goes through a transaction pooler (PgBouncer <c>pool_mode = transaction</c>): a
    /// statement prepared on one server connection is gone when the next transaction runs on another. See
    /// <c>docs/postgres.md</c>.
    /// </summary>
    public bool PreparedStatements { get; init; } = true;

    /// <summary>Checks the schema name.</summary>
    /// <exception cref="ArgumentException">It is not a plain lowercase identifier.</exception>
    public void Validate()
    {
        // Spliced into SQL text (identifiers cannot be parameters): the same allowlist as the session store's.
        var identifier = PostgresSessionStoreOptions.Identifier();
        if (!identifier.IsMatch(Schema)) throw new ArgumentException($"Schema must match {identifier}.", nameof(Schema));
    }
}
