namespace Bouncer.Tokens;

/// <summary>The validated claims of a token, copied out of a valid <see cref="VerifyResult"/> by <see cref="VerifyResult.ToClaims"/>.</summary>
public sealed class JwtClaims
{
    /// <summary>The <c>iss</c> claim.</summary>
    public required string Issuer { get; init; }
    /// <summary>The <c>aud</c> claim, as a list even when a single string.</summary>
    public required IReadOnlyList<string> Audiences { get; init; }
    /// <summary>The <c>sub</c> claim, or null.</summary>
    public string? Subject { get; init; }
    /// <summary>The <c>jti</c> claim, or null.</summary>
    public string? JwtId { get; init; }
    /// <summary>The <c>sid</c> claim, or null.</summary>
    public string? SessionId { get; init; }
    /// <summary>The <c>exp</c> claim.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }
    /// <summary>The <c>iat</c> claim, or null when absent.</summary>
    public DateTimeOffset? IssuedAt { get; init; }
    /// <summary>The <c>nbf</c> claim, or null when absent.</summary>
    public DateTimeOffset? NotBefore { get; init; }
    /// <summary>The <c>auth_time</c> claim (OpenID Connect Core 1.0 2: when the user last proved the password), or null when absent.</summary>
    public DateTimeOffset? AuthTime { get; init; }
    /// <summary>The <c>roles</c> claim (RFC 9068 2.2.3.1); empty when absent.</summary>
    public required IReadOnlyList<string> Roles { get; init; }
    /// <summary>The <c>scope</c> claim, space-separated (RFC 9068 2.2.3); null when absent.</summary>
    public string? Scope { get; init; }
    /// <summary>The raw payload JSON, for claims not modelled here.</summary>
    public required string PayloadJson { get; init; }
}

/// <summary>What an access token says about its bearer: <c>sub</c>, <c>sid</c>, <c>jti</c>, <c>scope</c>, <c>roles</c> <c>iat</c> (unix seconds, -1 when absent) and <c>auth_time</c>.</summary>
public readonly record struct AccessClaims(string? Subject, string? SessionId, string? JwtId, string? Scope, IReadOnlyList<string> Roles, long IssuedAtUnixSeconds)
{
    /// <summary>The <c>auth_time</c> claim (OpenID Connect Core 1.0 2) in unix seconds: when the user last proved the password; null when absent.</summary>
    public long? AuthTimeUnixSeconds { get; init; }

    /// <summary>
    /// The <c>cnf.jkt</c> (RFC 9449 6.1): the thumbprint of the DPoP key the token is bound to; null for an unbound
    /// token. Empty when <c>cnf</c> is present but not an object with a string <c>jkt</c>: bound to no key a proof can match.
    /// </summary>
    public string? ConfirmationKeyThumbprint { get; init; }
}
