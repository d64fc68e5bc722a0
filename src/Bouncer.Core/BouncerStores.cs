using Bouncer.Diagnostics;
using Bouncer.Refresh;
using Bouncer.Revocation;
using Bouncer.Sessions;
using Bouncer.Users;

namespace Bouncer;

/// <summary>
/// The persistence of one deployment, all on one backend: every instance pointed at the same backend shares
/// sessions, refresh families, accounts, signing keys and the revocation log. A backend's <c>UseX(...)</c> builds it;
/// the engine's services are built on it. Disposing closes what the backend opened.
/// </summary>
public sealed class BouncerStores : IAsyncDisposable, IDisposable
{
    private readonly IAsyncDisposable[] _owned;
    private int _disposed;

    /// <param name="sessions">Session records.</param>
    /// <param name="refreshTokens">Refresh-token families.</param>
    /// <param name="users">Accounts.</param>
    /// <param name="secrets">Named shared values: signing keys, the derivation secret, the issuer name.</param>
    /// <param name="revocations">The revocation log and push.</param>
    /// <param name="audit">The audit trail.</param>
    /// <param name="name">What the backend is, for start-up logs (<c>sqlite /var/lib/app/bouncer.db</c>); never a password.</param>
    /// <param name="owned">Connections and pools to close on dispose, in order.</param>
    public BouncerStores(ISessionStore sessions, IRefreshTokenStore refreshTokens, IUserStore users, ISecretStore secrets,
        IRevocationChannel revocations, IAuditStore audit, string name, params IAsyncDisposable[] owned)
    {
        Sessions = sessions ?? throw new ArgumentNullException(nameof(sessions));
        RefreshTokens = refreshTokens ?? throw new ArgumentNullException(nameof(refreshTokens));
        Users = users ?? throw new ArgumentNullException(nameof(users));
        Secrets = secrets ?? throw new ArgumentNullException(nameof(secrets));
        Revocations = revocations ?? throw new ArgumentNullException(nameof(revocations));
        Audit = audit ?? throw new ArgumentNullException(nameof(audit));
        Name = name;
        _owned = owned;
    }

    /// <summary>Session records.</summary>
    public ISessionStore Sessions { get; }

    /// <summary>Refresh-token families.</summary>
    public IRefreshTokenStore RefreshTokens { get; }

    /// <summary>Accounts.</summary>
    public IUserStore Users { get; }

    /// <summary>Named shared values (signing keys, the derivation secret, the issuer name). Never log them.</summary>
    public ISecretStore Secrets { get; }

    /// <summary>The revocation log and push.</summary>
    public IRevocationChannel Revocations { get; }

    /// <summary>The audit trail.</summary>
    public IAuditStore Audit { get; }

    /// <summary>What the backend is, for logs: kind and location, never credentials.</summary>
    public string Name { get; }

    /// <summary>
    /// The key file that encrypts secrets at rest when <c>Bouncer:KeyEncryption</c> names none: SQLite's beside its
    /// database (one machine: the file is as shared as the database). Null: no default, so a networked store needs a
    /// key every instance shares.
    /// </summary>
    public string? DefaultKeyFile { get; init; }

    /// <summary>False when nothing outlives the process (memory): its secrets need no encryption at rest.</summary>
    public bool PersistsSecrets { get; init; } = true;

    /// <summary>Everything in process memory: tests and single-process demos; lost at exit.</summary>
    public static BouncerStores InMemory() =>
        new(new MemorySessionStore(), new MemoryRefreshTokenStore(), new MemoryUserStore(), new MemorySecretStore(), new InProcessRevocationChannel(), new MemoryAuditStore(), "memory") { PersistsSecrets = false };

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        foreach (var owned in _owned) await owned.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <inheritdoc/>
    public override string ToString() => Name;
}
