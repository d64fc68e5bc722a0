using System.Text;
using Bouncer.Diagnostics;
using Bouncer.Revocation;

namespace Bouncer.Tokens;

/// <summary>
/// The bearer pipeline: the token is verified by one issuer's <see cref="JwsVerifier"/> (signature, alg allowlist,
/// typ, iss, aud, dates), its claims are read once, a token without <c>sub</c> is refused, and the in-memory
/// revocation state judges its <c>sid</c>, <c>jti</c> and the user cut-off. Counted on the operation's
/// <see cref="BouncerTrace"/> and on <see cref="BouncerMetrics"/>. Thread-safe.
/// </summary>
public sealed class AccessTokenValidator : IAccessTokenValidator
{
    private const int StackTokenBytes = 8192;

    private readonly JwsVerifier _verifier;
    private readonly RevocationListener? _revocations;
    private readonly BouncerMetrics? _metrics;

    /// <param name="verifier">The issuer's verifier.</param>
    /// <param name="revocations">The issuer's revocation state; null for an issuer that announces none (an outside OIDC issuer).</param>
    /// <param name="metrics">The instruments, or null.</param>
    public AccessTokenValidator(JwsVerifier verifier, RevocationListener? revocations, BouncerMetrics? metrics = null)
    {
        _verifier = verifier ?? throw new ArgumentNullException(nameof(verifier));
        _revocations = revocations;
        _metrics = metrics;
    }

    /// <summary>The engine's own pipeline: its tokens, its revocation state.</summary>
    public AccessTokenValidator(BouncerTokens tokens, RevocationListener revocations, BouncerMetrics? metrics = null)
        : this(tokens.Verifier, revocations ?? throw new ArgumentNullException(nameof(revocations)), metrics)
    {
    }

    /// <inheritdoc/>
    public ValueTask<AccessTokenResult> ValidateAsync(string token, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(token);
        return ValidateAsync(token.AsMemory(), ct);
    }

    /// <inheritdoc/>
    public ValueTask<AccessTokenResult> ValidateAsync(ReadOnlyMemory<char> token, CancellationToken ct) =>
        BouncerActivities.IsTraced ? ValidateTracedAsync(token, ct) : ValidateCoreAsync(token.Span, ct);

    // Without a listener the untraced path runs as is: a valid verify allocates nothing. The span names the verdict
    // and its failure code, never the token or its claims.
    private async ValueTask<AccessTokenResult> ValidateTracedAsync(ReadOnlyMemory<char> token, CancellationToken ct)
    {
        using var activity = BouncerActivities.Start(BouncerActivities.Verify);
        try
        {
            var result = await ValidateCoreAsync(token.Span, ct).ConfigureAwait(false);
            BouncerActivities.SetOutcome(activity, result.IsValid ? "accepted" : "refused", result.Failure);
            return result;
        }
        catch (Exception ex) when (BouncerActivities.Failed(activity, ex))
        {
            throw;
        }
    }

    private ValueTask<AccessTokenResult> ValidateCoreAsync(ReadOnlySpan<char> token, CancellationToken ct)
    {
        var trace = BouncerTrace.Current;
        if (trace is not null)
        {
            trace.Strategy = "jwt";
            trace.CredentialBytes = token.Length;
            trace.SignatureChecks++;
        }
        _metrics?.Verifications.Add(1, new KeyValuePair<string, object?>("strategy", "jwt"));

        var verified = Verify(token, out var kid);
        if (!verified.IsValid || _revocations is null) return ValueTask.FromResult(verified);
        var claims = verified.Claims;
        if (trace is not null) trace.RevocationChecks++;
        // The kid of the key that verified the signature, not the header's word: a revoked (compromised) key's tokens die
        // whatever claims its holder wrote into them.
        var check = _revocations.CheckAsync(kid, claims.SessionId, claims.JwtId, claims.Subject, Math.Max(claims.IssuedAtUnixSeconds, 0), ct);
        return check.IsCompletedSuccessfully ? ValueTask.FromResult(Judge(check.Result, claims)) : AwaitAsync(check, claims);
    }

    /// <summary>Signature, header and claim checks only, without the revocation verdict.</summary>
    public AccessTokenResult Verify(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return Verify(token, out _);
    }

    private AccessTokenResult Verify(ReadOnlySpan<char> token, out string? kid)
    {
        kid = null;
        // A compact JWS is ASCII only (RFC 7515 7.1): anything else is malformed, and refusing it here keeps the
        // one-byte-per-char copy below exact.
        if (!Ascii.IsValid(token)) return AccessTokenResult.Fail(FailureCodes.Malformed);
        if (token.Length > StackTokenBytes) return AccessTokenResult.Fail(FailureCodes.TooLarge);
        Span<byte> utf8 = stackalloc byte[token.Length];
        var written = Encoding.ASCII.GetBytes(token, utf8);
        // Verified and read in one pass over the decoded payload (not decoded again for the claims).
        var failure = _verifier.VerifyAccess(utf8[..written], out var key, out var access);
        if (failure != VerifyFailure.None) return AccessTokenResult.Fail(failure.ToCode());
        kid = key?.KeyId;
        var claims = access;
        return string.IsNullOrEmpty(claims.Subject) ? AccessTokenResult.Fail(FailureCodes.MissingSub) : AccessTokenResult.Success(claims);
    }

    private static async ValueTask<AccessTokenResult> AwaitAsync(ValueTask<RevocationVerdict> check, AccessClaims claims) =>
        Judge(await check.ConfigureAwait(false), claims);

    private static AccessTokenResult Judge(RevocationVerdict verdict, AccessClaims claims) => verdict switch
    {
        RevocationVerdict.Revoked => AccessTokenResult.Fail(FailureCodes.TokenRevoked),
        RevocationVerdict.Stale => AccessTokenResult.Fail(FailureCodes.RevocationStateStale),
        _ => AccessTokenResult.Success(claims),
    };
}
