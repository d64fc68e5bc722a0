using Bouncer.Users;

namespace Bouncer.Tokens;

/// <summary>Keeps a key ring's private JWK set as one value of the deployment's <see cref="ISecretStore"/>.</summary>
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
