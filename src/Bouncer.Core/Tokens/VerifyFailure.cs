namespace Bouncer.Tokens;

/// <summary>
/// Why a token was refused. The values are stable: <see cref="VerifyFailureExtensions.ToCode"/> gives the
/// snake_case code used alike in 401 bodies, CLI output and logs. Never reorder or reuse a value.
/// </summary>
public enum VerifyFailure
{
    /// <summary>The token is valid.</summary>
    None = 0,
    /// <summary>Not a compact JWS: wrong number of parts, non-canonical base64url, bad JSON, duplicate or too many members.</summary>
    Malformed,
    /// <summary>The token is longer than <see cref="VerifyOptions.MaxTokenBytes"/>.</summary>
    TooLarge,
    /// <summary>The payload JSON nests deeper than <see cref="VerifyOptions.MaxJsonDepth"/>, or the header deeper than 8.</summary>
    TooDeep,
    /// <summary>The header's <c>alg</c> is missing, unknown, <c>none</c>, or not the alg the chosen key is pinned to.</summary>
    AlgNotAllowed,
    /// <summary>No key matches the header's <c>kid</c> (or there is no <c>kid</c> and more than one key).</summary>
    UnknownKid,
    /// <summary>The signature does not verify.</summary>
    BadSignature,
    /// <summary>The header carries <c>crit</c>: no extension is understood, so none may be critical (RFC 7515 4.1.11).</summary>
    CritUnsupported,
    /// <summary>
    /// The header carries <c>b64</c>, <c>zip</c> or <c>enc</c>, which change how the token is read; none is supported.
    /// Other members Bouncer does not understand are ignored (RFC 7515 4), unless <c>crit</c> names them.
    /// </summary>
    UnsupportedHeader,
    /// <summary>The header names a key (<c>jku</c>, <c>x5u</c>, <c>jwk</c>, <c>x5c</c>): such keys are never trusted or fetched.</summary>
    UntrustedKeyHeader,
    /// <summary>The <c>typ</c> is not <c>at+jwt</c> (RFC 9068 2.1, RFC 8725 3.11), or is missing while required.</summary>
    BadTyp,
    /// <summary><c>exp</c> is in the past (beyond the allowed clock skew).</summary>
    TokenExpired,
    /// <summary><c>nbf</c> is in the future (beyond the allowed clock skew).</summary>
    NotYetValid,
    /// <summary><c>iat</c> is in the future (beyond the allowed clock skew).</summary>
    IssuedInFuture,
    /// <summary>The payload has no <c>exp</c>.</summary>
    MissingExp,
    /// <summary>A numeric date (<c>exp</c>, <c>nbf</c>, <c>iat</c>) is not a number or is out of range.</summary>
    BadDate,
    /// <summary><c>iss</c> is missing or is not exactly the expected issuer.</summary>
    BadIssuer,
    /// <summary><c>aud</c> is missing or does not contain the expected audience.</summary>
    BadAudience,
}

/// <summary>Stable codes for <see cref="VerifyFailure"/>.</summary>
public static class VerifyFailureExtensions
{
    /// <summary>The stable snake_case code, e.g. <c>token_expired</c>. Allocates nothing.</summary>
    public static string ToCode(this VerifyFailure failure) => failure switch
    {
        VerifyFailure.None => "none",
        VerifyFailure.Malformed => FailureCodes.Malformed,
        VerifyFailure.TooLarge => FailureCodes.TooLarge,
        VerifyFailure.TooDeep => FailureCodes.TooDeep,
        VerifyFailure.AlgNotAllowed => FailureCodes.AlgNotAllowed,
        VerifyFailure.UnknownKid => FailureCodes.UnknownKid,
        VerifyFailure.BadSignature => FailureCodes.BadSignature,
        VerifyFailure.CritUnsupported => FailureCodes.CritUnsupported,
        VerifyFailure.UnsupportedHeader => FailureCodes.UnsupportedHeader,
        VerifyFailure.UntrustedKeyHeader => FailureCodes.UntrustedKeyHeader,
        VerifyFailure.BadTyp => FailureCodes.BadTyp,
        VerifyFailure.TokenExpired => FailureCodes.TokenExpired,
        VerifyFailure.NotYetValid => FailureCodes.NotYetValid,
        VerifyFailure.IssuedInFuture => FailureCodes.IssuedInFuture,
        VerifyFailure.MissingExp => FailureCodes.MissingExp,
        VerifyFailure.BadDate => FailureCodes.BadDate,
        VerifyFailure.BadIssuer => FailureCodes.BadIssuer,
        VerifyFailure.BadAudience => FailureCodes.BadAudience,
        _ => throw new ArgumentOutOfRangeException(nameof(failure), failure, null),
    };
}
