using System.Text.RegularExpressions;

namespace Bouncer.Stores.Postgres;

/// <summary>Where <see cref="PostgresSessionStore"/> keeps its table.</summary>
public sealed partial class PostgresSessionStoreOptions
{
    /// <summary>Schema of the sessions table (default <c>public</c>). A lowercase SQL identifier.</summary>
    public string Schema { get; init; } = "public";

    /// <summary>
    /// Name of the sessions table (default <c>bouncer_sessions</c>). A lowercase SQL identifier of at most
    /// 50 chars, so the index names derived from it (<c>&lt;table&gt;_expires_at_idx</c>) fit in 63.
    /// </summary>
    public string Table { get; init; } = "bouncer_sessions";

    /// <summary>
    /// Whether statements are prepared on the server (default true). Set false behind a transaction pooler
    /// (PgBouncer <c>pool_mode = transaction</c>), as <see cref="PostgresStoreOptions.PreparedStatements"/>.
    /// </summary>
    public bool PreparedStatements { get; init; } = true;

    /// <summary>Checks both names.</summary>
    /// <exception cref="ArgumentException">A name is not a plain lowercase identifier.</exception>
    public void Validate()
    {
        // Names are spliced into SQL text (identifiers cannot be parameters), so only a strict
        // allowlist gets through; they are also double-quoted. Lowercase only: quoted and unquoted
        // spellings then name the same table, so hand-written DDL and queries cannot miss it.
        if (!Identifier().IsMatch(Schema)) throw new ArgumentException($"Schema must match {Identifier()}.", nameof(Schema));
        if (!Identifier().IsMatch(Table)) throw new ArgumentException($"Table must match {Identifier()}.", nameof(Table));
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,49}$")]
    internal static partial Regex Identifier();
}
