using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Bouncer.Verifier;

/// <summary>
/// Authenticates <c>Authorization: Bearer</c> tokens with the <see cref="DownstreamVerifier"/>. A refused token
/// fails authentication with its reason code; the challenge is a 401 problem+json carrying <c>reason</c> and an
/// RFC 6750 3 <c>WWW-Authenticate</c>, as the Bouncer server's own bearer handler answers.
/// </summary>
public sealed class BouncerVerifierHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, DownstreamVerifier verifier)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    /// <summary>Validates the bearer token with the <see cref="DownstreamVerifier"/>; no bearer header means no result.</summary>
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header) || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return AuthenticateResult.NoResult();
        var result = await verifier.VerifyAsync(header[7..].Trim(), Context.RequestAborted).ConfigureAwait(false);
        if (!result.IsValid)
        {
            Context.Items[BouncerVerifierDefaults.FailureReasonItem] = result.Failure;
            Logger.TokenRefused(result.Failure!);
            return AuthenticateResult.Fail(result.Failure!);
        }
        var claims = result.Claims;
        var identity = new ClaimsIdentity(Scheme.Name, BouncerVerifierClaims.Subject, BouncerVerifierClaims.Role);
        identity.AddClaim(new Claim(BouncerVerifierClaims.Subject, claims.Subject!));
        identity.AddClaim(new Claim(BouncerVerifierClaims.Issuer, result.Issuer!));
        if (claims.SessionId is not null) identity.AddClaim(new Claim(BouncerVerifierClaims.SessionId, claims.SessionId));
        if (claims.JwtId is not null) identity.AddClaim(new Claim(BouncerVerifierClaims.TokenId, claims.JwtId));
        if (claims.Scope is not null) identity.AddClaim(new Claim(BouncerVerifierClaims.Scope, claims.Scope));
        foreach (var role in claims.Roles) identity.AddClaim(new Claim(BouncerVerifierClaims.Role, role));
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name));
    }

    /// <summary>Answers 401 with an RFC 6750 <c>WWW-Authenticate</c> header.</summary>
    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var reason = Context.Items[BouncerVerifierDefaults.FailureReasonItem] as string;
        if (reason == FailureCodes.RevocationStateStale)
        {
            // The token is not at fault: this service cannot vouch for it right now (RFC 9110 15.6.4).
            Response.Headers.RetryAfter = "1";
            return WriteProblemAsync(503, reason, "The revocation state is out of date; retry shortly.");
        }
        // RFC 6750 3.1: invalid_token when a token was presented and refused; a bare challenge when none was.
        Response.Headers[HeaderNames.WWWAuthenticate] = reason is null
            ? "Bearer realm=\"bouncer\""
            : $"Bearer realm=\"bouncer\", error=\"invalid_token\", error_description=\"{reason}\"";
        return WriteProblemAsync(401, reason ?? FailureCodes.CredentialMissing, reason is null
            ? "This resource needs a bearer token."
            : "The credential was refused: " + reason + ".");
    }

    /// <summary>Answers 403 with an RFC 6750 <c>insufficient_scope</c> header.</summary>
    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        // RFC 6750 3.1: insufficient_scope for a valid token lacking the privileges.
        Response.Headers[HeaderNames.WWWAuthenticate] = "Bearer realm=\"bouncer\", error=\"insufficient_scope\"";
        return WriteProblemAsync(403, FailureCodes.Forbidden, "The token is valid but lacks the required role.");
    }

    private Task WriteProblemAsync(int status, string reason, string detail)
    {
        if (Response.HasStarted) return Task.CompletedTask;
        Response.StatusCode = status;
        return Results.Problem(detail: detail, statusCode: status, title: reason,
            extensions: new Dictionary<string, object?> { ["reason"] = reason }).ExecuteAsync(Context);
    }
}
