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

    /// <summary>
    /// <see cref="ValidateAsync(string, CancellationToken)"/> on characters of a larger string (an <c>Authorization</c>
    /// header after its scheme), so the caller need not copy the token out first. The default copies it to a string.
    /// </summary>
    ValueTask<AccessTokenResult> ValidateAsync(ReadOnlyMemory<char> token, CancellationToken ct) => ValidateAsync(token.ToString(), ct);
}
