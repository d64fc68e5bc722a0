namespace Bouncer.Tokens;

/// <summary>The validated claims of a token, copied out of a valid <see cref="VerifyResult"/> by <see cref="VerifyResult.ToClaims"/>.</summary>
public sealed class JwtClaims
{
    public required string Issuer { get; init; }
    public required IReadOnlyList<string> Audiences { get; init; }
    public string? Subject { get; init; }
    public string? JwtId { get; init; }
    public string? SessionId { get; init; }
    public required DateTimeOffset ExpiresAt { get; init; }
    public DateTimeOffset? IssuedAt { get; init; }
    public DateTimeOffset? NotBefore { get; init; }
    /// <summary>The <c>roles</c> claim (RFC 9068 2.2.3.1); empty when absent.</summary>
    public required IReadOnlyList<string> Roles { get; init; }
    /// <summary>The <c>scope</c> claim, space-separated (RFC 9068 2.2.3); null when absent.</summary>
    public string? Scope { get; init; }
    /// <summary>The raw payload JSON, for claims not modelled here.</summary>
    public required string PayloadJson { get; init; }
}

/// <summary>What an access token says about its bearer: <c>sub</c>, <c>sid</c>, <c>jti</c>, <c>scope</c>, <c>roles</c> and <c>iat</c> (unix seconds, -1 when absent).</summary>
public readonly record struct AccessClaims(string? Subject, string? SessionId, string? JwtId, string? Scope, IReadOnlyList<string> Roles, long IssuedAtUnixSeconds);
