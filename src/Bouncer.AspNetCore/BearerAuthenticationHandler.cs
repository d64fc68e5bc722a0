using System.Security.Claims;
using System.Text.Encodings.Web;
using Bouncer.Diagnostics;
using Bouncer.Dpop;
using Bouncer.Tokens;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Bouncer.AspNetCore;

/// <summary>
/// Authenticates <c>Authorization: Bearer</c> access tokens through the engine's bearer pipeline
/// (<see cref="IAccessTokenValidator"/>: strict JWS verification, claims read once, the in-memory revocation check;
/// no I/O unless the revocation state is stale and the policy falls back to the store), and
/// <c>Authorization: DPoP</c> key-bound tokens with their <c>DPoP</c> proof (RFC 9449 7, <see cref="DpopProofValidator"/>):
/// a bound token presented as Bearer is refused. Challenges follow RFC 6750 3 and RFC 9449 7.1.
/// </summary>
public sealed class BearerAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    IAccessTokenValidator validator, IOptions<BouncerOptions> bouncer, BouncerMetrics metrics, DpopProofValidator dpop)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    private const string DpopSchemeItem = "bouncer.dpop.scheme";

    /// <inheritdoc/>
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (bouncer.Value.Mode == BouncerMode.Session) return AuthenticateResult.NoResult();
        string? header = Request.Headers.Authorization;
        // RFC 6750 2.1, RFC 9449 7.1: the scheme is case-insensitive, one space, then the token.
        if (string.IsNullOrEmpty(header)) return AuthenticateResult.NoResult();
        bool dpopScheme;
        // The token stays in the header string: no copy of it per request.
        ReadOnlyMemory<char> token;
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) (dpopScheme, token) = (false, header.AsMemory(7).Trim());
        else if (header.StartsWith("DPoP ", StringComparison.OrdinalIgnoreCase)) (dpopScheme, token) = (true, header.AsMemory(5).Trim());
        else return AuthenticateResult.NoResult();
        if (dpopScheme) Context.Items[DpopSchemeItem] = true;
        var result = await validator.ValidateAsync(token, Context.RequestAborted).ConfigureAwait(false);
        if (!result.IsValid) return Refuse(result.Failure!);
        var claims = result.Claims;
        // RFC 9449 7: a bound token needs the DPoP scheme and a proof by its key; an unbound one is refused where
        // the deployment or its audience requires binding. Only the DPoP scheme reads the proofs and the target URL.
        bool required = bouncer.Value.Dpop.BindingRequiredFor(bouncer.Value.Audience);
        var presented = dpopScheme
            ? dpop.CheckPresentation(dpopScheme, BouncerHttp.DpopProofs(Context), Request.Method,
                BouncerHttp.DpopTargetUrl(Context, bouncer.Value), token.ToString(), claims.ConfirmationKeyThumbprint, required)
            : dpop.CheckBearerPresentation(claims.ConfirmationKeyThumbprint, required);
        if (!presented.IsValid) return Refuse(presented.Failure!);
        if (presented.Thumbprint is { } proofKey) Context.Items[BouncerHttp.DpopProofKeyItem] = proofKey;

        var identity = new ClaimsIdentity(BouncerDefaults.BearerScheme, BouncerClaims.Subject, BouncerClaims.Role);
        identity.AddClaim(new Claim(BouncerClaims.Subject, claims.Subject!));
        if (claims.SessionId is not null) identity.AddClaim(new Claim(BouncerClaims.SessionId, claims.SessionId));
        if (claims.JwtId is not null) identity.AddClaim(new Claim(BouncerClaims.TokenId, claims.JwtId));
        if (claims.Scope is not null) identity.AddClaim(new Claim(BouncerClaims.Scope, claims.Scope));
        identity.AddClaim(new Claim(BouncerClaims.Via, "jwt"));
        foreach (var role in claims.Roles) identity.AddClaim(new Claim(BouncerClaims.Role, role));
        var principal = new ClaimsPrincipal(identity);
        var validated = new BouncerValidatedContext(Context, principal);
        await bouncer.Value.Events.TokenValidated(validated).ConfigureAwait(false);
        if (validated.Failure is { } refused) return Refuse(refused);
        return AuthenticateResult.Success(new AuthenticationTicket(principal, BouncerDefaults.BearerScheme));
    }

    /// <inheritdoc/>
    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var challenge = new BouncerChallengeContext(Context, Context.Items[BouncerClaims.FailureReasonItem] as string);
        await bouncer.Value.Events.Challenge(challenge).ConfigureAwait(false);
        if (challenge.Handled) return;
        if (challenge.Failure == FailureCodes.RevocationStateStale)
        {
            // Nothing is wrong with the token: this instance cannot vouch for it right now. A 401 would make clients
            // throw a good token away; 503 says retry (RFC 9110 15.6.4).
            Response.Headers.RetryAfter = "1";
            await BouncerProblems.WriteAsync(Context, 503, FailureCodes.RevocationStateStale, "The revocation state is out of date; retry shortly.").ConfigureAwait(false);
            return;
        }
        if (challenge.Failure == FailureCodes.DpopReplayCacheFull)
        {
            // The proof could not be checked for replay right now; nothing says it is bad (RFC 9110 15.6.4).
            Response.Headers.RetryAfter = "1";
            await BouncerProblems.WriteAsync(Context, 503, FailureCodes.DpopReplayCacheFull, "Too many DPoP proofs at once; retry shortly.").ConfigureAwait(false);
            return;
        }
        if (challenge.Failure == FailureCodes.DpopKeyRateLimited)
        {
            // This key's share of the replay cache is used up; the token is fine, the client slows down (RFC 6585 4).
            Response.Headers.RetryAfter = "1";
            await BouncerProblems.WriteAsync(Context, 429, FailureCodes.DpopKeyRateLimited, "Too many DPoP proofs by this key; retry shortly.").ConfigureAwait(false);
            return;
        }
        bool dpopScheme = Context.Items.ContainsKey(DpopSchemeItem);
        bool dpopFailure = challenge.Failure is { } f && (f.StartsWith("dpop_", StringComparison.Ordinal) || f == FailureCodes.UseDpopNonce);
        // RFC 9449 7.1: DPoP challenges for DPoP requests and DPoP refusals, and beside Bearer where binding is required.
        if (dpopScheme || dpopFailure || bouncer.Value.Dpop.BindingRequiredFor(bouncer.Value.Audience))
        {
            await BouncerProblems.WriteDpopUnauthorizedAsync(Context, challenge.Failure, dpopScheme, dpop.AlgorithmsChallenge, dpop.CurrentNonce()).ConfigureAwait(false);
            return;
        }
        await BouncerProblems.WriteUnauthorizedAsync(Context, bearer: true).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var forbidden = new BouncerChallengeContext(Context, FailureCodes.Forbidden);
        await bouncer.Value.Events.Forbidden(forbidden).ConfigureAwait(false);
        if (forbidden.Handled) return;
        // RFC 6750 3.1: insufficient_scope for a valid token lacking the privileges.
        Response.Headers[HeaderNames.WWWAuthenticate] = "Bearer realm=\"bouncer\", error=\"insufficient_scope\"";
        await BouncerProblems.WriteAsync(Context, 403, FailureCodes.Forbidden, "The token is valid but lacks the required role.").ConfigureAwait(false);
    }

    private AuthenticateResult Refuse(string reason)
    {
        Context.Items[BouncerClaims.FailureReasonItem] = reason;
        BouncerTrace.Current?.Reason = reason;
        metrics.Fail(reason);
        return AuthenticateResult.Fail(reason);
    }
}
