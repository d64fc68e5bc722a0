namespace Bouncer.Tokens;

/// <summary>
/// The verdict of <see cref="IAccessTokenValidator"/>: the claims of an accepted access token, or the failure code
/// (from <see cref="FailureCodes"/>) it was refused with. A value type: a refusal on the hot path allocates nothing.
/// </summary>
public readonly struct AccessTokenResult
{
    private AccessTokenResult(string? failure, AccessClaims claims)
    {
        Failure = failure;
        Claims = claims;
    }

    /// <summary>Null when accepted; else the failure code.</summary>
    public string? Failure { get; }

    /// <summary>The claims of an accepted token (default when refused).</summary>
    public AccessClaims Claims { get; }

    /// <summary>True when the token was accepted.</summary>
    public bool IsValid => Failure is null;

    /// <summary>An accepted token.</summary>
    public static AccessTokenResult Success(AccessClaims claims) => new(null, claims);

    /// <summary>A refusal with <paramref name="failure"/>, a code of <see cref="FailureCodes"/>.</summary>
    public static AccessTokenResult Fail(string failure) => new(failure ?? throw new ArgumentNullException(nameof(failure)), default);
}
