namespace Bouncer.Refresh;

/// <summary>Policy of refresh tokens and the access tokens they mint.</summary>
public sealed class RefreshOptions
{
    /// <summary>A family (one login) ends this long after login, however active. Default 30 days.</summary>
    public TimeSpan FamilyLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>A refresh token unused this long dies. Default 7 days.</summary>
    public TimeSpan IdleLimit { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// Presenting a just-rotated token again within this window returns the same successor pair (two
    /// tabs, a retried request); after it, reuse is theft. Default 5 s; at most 60 s.
    /// </summary>
    public TimeSpan GraceWindow { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A rotated token replayed inside <see cref="GraceWindow"/> from another client (address or user agent) than the
    /// one its successor went to is theft: the family is revoked (<c>refresh_token_reused</c>). Default true; a same
    /// client's second tab or retry still gets the same pair.
    /// </summary>
    public bool TreatReplayFromAnotherClientAsTheft { get; set; } = true;

    /// <summary>
    /// Refreshes of one family per minute on this instance before <c>rate_limited</c>: a client refreshes once per
    /// access-token lifetime (a few more with several tabs), a flood of replays of one stolen token needs many. Default 60; 1 to 10,000.
    /// </summary>
    public int RefreshesPerFamilyPerMinute { get; set; } = 60;

    /// <summary>Lifetime of each access token. Default 10 minutes.</summary>
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Clock skew verifiers allow; revocation entries outlive the last token by this much. Default 30 s.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Secret (at least 32 bytes) from which a successor token is derived from its predecessor, so a
    /// replay within the grace window yields the same pair without storing a live token. Every
    /// instance of a deployment must share it. Null: a random key for this process only.
    /// </summary>
    public byte[]? DerivationKey { get; set; }

    /// <summary>Throws when a value is out of range, naming it.</summary>
    public void Validate()
    {
        if (FamilyLifetime <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(FamilyLifetime), "FamilyLifetime must be positive.");
        if (IdleLimit <= TimeSpan.Zero || IdleLimit > FamilyLifetime) throw new ArgumentOutOfRangeException(nameof(IdleLimit), "IdleLimit must be positive and at most FamilyLifetime.");
        if (GraceWindow < TimeSpan.Zero || GraceWindow > TimeSpan.FromSeconds(60)) throw new ArgumentOutOfRangeException(nameof(GraceWindow), "GraceWindow must be between 0 and 60 s.");
        if (AccessTokenLifetime <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(AccessTokenLifetime), "AccessTokenLifetime must be positive.");
        if (RefreshesPerFamilyPerMinute is < 1 or > 10_000) throw new ArgumentOutOfRangeException(nameof(RefreshesPerFamilyPerMinute), "RefreshesPerFamilyPerMinute must be between 1 and 10000.");
        if (DerivationKey is { Length: < 32 }) throw new ArgumentOutOfRangeException(nameof(DerivationKey), "DerivationKey must be at least 32 bytes.");
    }
}

/// <summary>Claims of one access token to be signed: what the refresh service decides, not how it is signed.</summary>
public sealed record AccessGrant(string Subject, string Sid, string Jti, DateTimeOffset IssuedAt, DateTimeOffset ExpiresAt, string? Scope)
{
    /// <summary>
    /// The <c>auth_time</c>: when the family's login proved the password (<see cref="RefreshRecord.AuthTime"/>), the
    /// same for every token of the family however often it is refreshed. Null only for a grant built without it.
    /// </summary>
    public DateTimeOffset? AuthTime { get; init; }

    /// <summary>The <c>cnf.jkt</c> for the access token: the family's DPoP key (<see cref="RefreshRecord.DpopJkt"/>), or null.</summary>
    public string? DpopJkt { get; init; }
}

/// <summary>Why a refresh failed, or that it succeeded.</summary>
public enum RefreshOutcome
{
    /// <summary>A new pair was issued.</summary>
    Issued,

    /// <summary>A just-rotated token was presented again within the grace window: the same pair again.</summary>
    Replayed,

    /// <summary>Malformed or unknown token (<c>refresh_token_invalid</c>).</summary>
    Invalid,

    /// <summary>Past its idle limit or its family's lifetime (<c>refresh_token_expired</c>).</summary>
    Expired,

    /// <summary>Its family was revoked (<c>refresh_token_revoked</c>).</summary>
    Revoked,

    /// <summary>A rotated token was presented after the grace window: theft; the family is now revoked (<c>refresh_token_reused</c>).</summary>
    ReuseDetected,

    /// <summary>The account is suspended: the family is now revoked (<c>user_suspended</c>).</summary>
    UserSuspended,

    /// <summary>
    /// The family is DPoP-bound and the request carried no proof by its key (<c>dpop_key_mismatch</c>, RFC 9449 5).
    /// The family is left alone: without the key the token is useless, and ending it would let anyone who saw it do so.
    /// </summary>
    DpopKeyMismatch,

    /// <summary>The family was refreshed more than <see cref="RefreshOptions.RefreshesPerFamilyPerMinute"/> times this minute (<c>rate_limited</c>); nothing changed.</summary>
    RateLimited,
}

/// <summary>The answer of <see cref="RefreshTokenService"/>: a pair when <see cref="Succeeded"/>.</summary>
public sealed record RefreshResult(RefreshOutcome Outcome, string? RefreshToken, AccessGrant? Access, DateTimeOffset? RefreshExpiresAt)
{
    /// <summary>True when a pair was issued: a fresh rotation, or a replay inside the grace window.</summary>
    public bool Succeeded => Outcome is RefreshOutcome.Issued or RefreshOutcome.Replayed;

    /// <summary>Stable reason code for 401 bodies and logs; null on success.</summary>
    public string? ReasonCode => Outcome switch
    {
        RefreshOutcome.Invalid => FailureCodes.RefreshTokenInvalid,
        RefreshOutcome.Expired => FailureCodes.RefreshTokenExpired,
        RefreshOutcome.Revoked => FailureCodes.RefreshTokenRevoked,
        RefreshOutcome.ReuseDetected => FailureCodes.RefreshTokenReused,
        RefreshOutcome.UserSuspended => FailureCodes.UserSuspended,
        RefreshOutcome.DpopKeyMismatch => FailureCodes.DpopKeyMismatch,
        RefreshOutcome.RateLimited => FailureCodes.RateLimited,
        _ => null,
    };

    internal static readonly RefreshResult InvalidResult = new(RefreshOutcome.Invalid, null, null, null);
    internal static readonly RefreshResult ExpiredResult = new(RefreshOutcome.Expired, null, null, null);
    internal static readonly RefreshResult RevokedResult = new(RefreshOutcome.Revoked, null, null, null);
    internal static readonly RefreshResult ReusedResult = new(RefreshOutcome.ReuseDetected, null, null, null);
    internal static readonly RefreshResult SuspendedResult = new(RefreshOutcome.UserSuspended, null, null, null);
    internal static readonly RefreshResult DpopKeyMismatchResult = new(RefreshOutcome.DpopKeyMismatch, null, null, null);
    internal static readonly RefreshResult RateLimitedResult = new(RefreshOutcome.RateLimited, null, null, null);
}

