namespace Bouncer.Tokens;

/// <summary>
/// Judges a presented access token: the one bearer pipeline (strict JWS verification, claims read once, the
/// revocation verdict) shared by the server's bearer handler and the downstream verifier.
/// </summary>
public interface IAccessTokenValidator
{
    /// <summary>
    /// The verdict on <paramref name="token"/> (the compact JWS, without the <c>Bearer</c> prefix). Never throws on a
    /// bad token. Completes synchronously unless the revocation state is stale and the policy falls back to the store.
    /// </summary>
    ValueTask<AccessTokenResult> ValidateAsync(string token, CancellationToken ct);
}
