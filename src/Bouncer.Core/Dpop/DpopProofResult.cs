namespace Bouncer.Dpop;

/// <summary>
/// The verdict on a DPoP proof or on a token's presentation: accepted (with the proof key's RFC 7638 thumbprint when a
/// proof was checked) or refused with a code from <see cref="FailureCodes"/>. <see cref="Error"/> is the RFC's
/// <c>error</c> value for the challenge or the token error response.
/// </summary>
public readonly struct DpopProofResult
{
    private DpopProofResult(string? failure, string? thumbprint)
    {
        Failure = failure;
        Thumbprint = thumbprint;
    }

    /// <summary>Null when accepted; else the failure code.</summary>
    public string? Failure { get; }

    /// <summary>The proof key's thumbprint (the <c>jkt</c> to bind to); null when no proof was checked or refused.</summary>
    public string? Thumbprint { get; }

    /// <summary>True when accepted.</summary>
    public bool IsValid => Failure is null;

    /// <summary>
    /// The RFC error code: <c>use_dpop_nonce</c> (RFC 9449 8, 9), <c>invalid_dpop_proof</c> for anything wrong with the
    /// proof (RFC 9449 5, 7.1), <c>invalid_token</c> for a token presented the wrong way (RFC 6750 3.1, RFC 9449 7.2);
    /// null when accepted.
    /// </summary>
    public string? Error => ErrorFor(Failure);

    /// <summary>An acceptance, with the proof key's thumbprint or null.</summary>
    public static DpopProofResult Accepted(string? thumbprint) => new(null, thumbprint);

    /// <summary>A refusal with a code of <see cref="FailureCodes"/>.</summary>
    public static DpopProofResult Refused(string failure) => new(failure ?? throw new ArgumentNullException(nameof(failure)), null);

    /// <summary>The RFC error code for a failure code (see <see cref="Error"/>).</summary>
    public static string? ErrorFor(string? failure) => failure switch
    {
        null => null,
        FailureCodes.UseDpopNonce => "use_dpop_nonce",
        FailureCodes.DpopBoundTokenAsBearer or FailureCodes.DpopTokenNotBound or FailureCodes.DpopRequired => "invalid_token",
        _ when failure.StartsWith("dpop_", StringComparison.Ordinal) => "invalid_dpop_proof",
        _ => "invalid_token",
    };
}
