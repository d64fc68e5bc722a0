using System.Security.Claims;
using System.Text.Encodings.Web;
using Bouncer.Diagnostics;
using Bouncer.Tokens;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Bouncer.AspNetCore;

/// <summary>
/// Authenticates <c>Authorization: Bearer</c> access tokens through the engine's bearer pipeline
/// (<see cref="IAccessTokenValidator"/>: strict JWS verification, claims read once, the in-memory revocation check;
/// no I/O unless the revocation state is stale and the policy falls back to the store). Challenges follow RFC 6750 3.
/// </summary>
public sealed class BearerAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    IAccessTokenValidator validator, IOptions<BouncerOptions> bouncer, BouncerMetrics metrics)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    /// <inheritdoc/>
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (bouncer.Value.Mode == BouncerMode.Session) return AuthenticateResult.NoResult();
        string? header = Request.Headers.Authorization;
        // RFC 6750 2.1: the scheme is case-insensitive, one space, then the token.
        if (string.IsNullOrEmpty(header) || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return AuthenticateResult.NoResult();
        var result = await validator.ValidateAsync(header[7..].Trim(), Context.RequestAborted).ConfigureAwait(false);
        if (!result.IsValid) return Refuse(result.Failure!);
        var claims = result.Claims;

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
