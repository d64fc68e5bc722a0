namespace Bouncer.Stores.Sqlite;

/// <summary>The SQLite stores on one file, from <see cref="SqliteBouncerStores.Open"/>. Disposing closes them all.</summary>
public sealed class SqliteStoreSet : IDisposable, IAsyncDisposable
{
    private readonly SqliteDatabase _shared;

    internal SqliteStoreSet(SqliteSessionStore sessions, SqliteRefreshTokenStore refreshTokens, SqliteUserStore users,
        SqliteSecretStore secrets, SqliteRevocationChannel revocations, SqliteAuditStore audit, SqliteDatabase shared)
    {
        Sessions = sessions;
        RefreshTokens = refreshTokens;
        Users = users;
        Secrets = secrets;
        Revocations = revocations;
        Audit = audit;
        _shared = shared;
    }

    /// <summary>The session store.</summary>
    public SqliteSessionStore Sessions { get; }

    /// <summary>The refresh token store.</summary>
    public SqliteRefreshTokenStore RefreshTokens { get; }

    /// <summary>The user store.</summary>
    public SqliteUserStore Users { get; }

    /// <summary>The secret store: named values every instance shares (signing keys, refresh derivation key, issuer).</summary>
    public SqliteSecretStore Secrets { get; }

    /// <summary>The revocation channel.</summary>
    public SqliteRevocationChannel Revocations { get; }

    /// <summary>The audit trail.</summary>
    public SqliteAuditStore Audit { get; }

    /// <summary>Stops the revocation poll, then closes every connection.</summary>
    public async ValueTask DisposeAsync()
    {
        await Revocations.DisposeAsync().ConfigureAwait(false);
        Sessions.Dispose();
        _shared.Dispose();
    }

    /// <inheritdoc cref="DisposeAsync"/>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
