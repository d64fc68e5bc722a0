using Bouncer.Refresh;
using Bouncer.Revocation;
using Bouncer.Sessions;
using Bouncer.Tokens;
using Bouncer.Users;

namespace Bouncer.AspNetCore;

/// <summary>
/// The persistence of one deployment: every instance pointed at the same backend shares sessions,
/// refresh families, accounts, signing keys and the revocation log.
/// </summary>
public sealed record BouncerStores(
    ISessionStore Sessions,
    IRefreshTokenStore RefreshTokens,
    IUserStore Users,
    ISecretStore Secrets,
    IRevocationChannel Revocations)
{
    /// <summary>Run once at start before anything else (create schemas, connect). Null: nothing to do.</summary>
    public Func<CancellationToken, Task>? Initialize { get; init; }

    /// <summary>Everything in process memory: tests and single-process demos; lost at exit.</summary>
    public static BouncerStores InMemory() =>
        new(new MemorySessionStore(), new MemoryRefreshTokenStore(), new MemoryUserStore(), new MemorySecretStore(), new InProcessRevocationChannel());
}

/// <summary>Keeps the private signing-key set in the deployment's <see cref="ISecretStore"/>.</summary>
internal sealed class SecretKeyStore(ISecretStore secrets) : IKeyStore
{
    public const string Name = "signing-keys";

    public ValueTask<string?> LoadAsync(CancellationToken cancellationToken) => secrets.GetAsync(Name, cancellationToken);

    public ValueTask SaveAsync(string privateJwkSet, CancellationToken cancellationToken) => secrets.SetAsync(Name, privateJwkSet, cancellationToken);

    public async ValueTask<bool> ReplaceAsync(string? expected, string privateJwkSet, CancellationToken cancellationToken) =>
        expected is null
            ? await secrets.GetOrAddAsync(Name, privateJwkSet, cancellationToken).ConfigureAwait(false) == privateJwkSet
            : await secrets.ReplaceAsync(Name, expected, privateJwkSet, cancellationToken).ConfigureAwait(false);
}
