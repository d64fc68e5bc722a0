using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Bouncer.Verifier;

/// <summary>
/// Authenticates <c>Authorization: Bearer</c> tokens, and <c>Authorization: DPoP</c> key-bound tokens with their
/// <c>DPoP</c> proof (RFC 9449 7), with the <see cref="DownstreamVerifier"/>; a bound token presented as Bearer is refused. A refused token
/// fails authentication with its reason code; the challenge is a 401 problem+json carrying <c>reason</c> and an
/// RFC 6750 3 <c>WWW-Authenticate</c>, as the Bouncer server's own bearer handler answers.
/// </summary>
public sealed class BouncerVerifierHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, DownstreamVerifier verifier,
    IOptions<BouncerVerifierOptions> settings)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    private const string DpopSchemeItem = "bouncer.verifier.dpop";

    /// <summary>Validates the bearer or DPoP token with the <see cref="DownstreamVerifier"/>; no such header means no result.</summary>
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header)) return AuthenticateResult.NoResult();
        // RFC 6750 2.1, RFC 9449 7.1: the scheme is case-insensitive, one space, then the token.
        bool dpopScheme;
        string token;
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) (dpopScheme, token) = (false, header[7..].Trim());
        else if (header.StartsWith("DPoP ", StringComparison.OrdinalIgnoreCase)) (dpopScheme, token) = (true, header[5..].Trim());
        else return AuthenticateResult.NoResult();
        if (dpopScheme) Context.Items[DpopSchemeItem] = true;
        var result = await verifier.VerifyAsync(token, Context.RequestAborted).ConfigureAwait(false);
        if (!result.IsValid) return Refuse(result.Failure!);
        var claims = result.Claims;
        // RFC 9449 7: the same presentation rules as the server's, from the same core validator.
        // RFC 9449 4.3 step 9: the configured origin and the path as it came on the wire (a decoded %3F would be dropped
        // as a query); never the Host header, which the client picks.
        var url = PublicOrigin() + Request.PathBase.ToUriComponent() + Request.Path.ToUriComponent();
        var presented = verifier.Dpop.CheckPresentation(dpopScheme, Request.Headers["DPoP"], Request.Method,
            url, token, claims.ConfirmationKeyThumbprint, verifier.DpopRequiredFor(result.Issuer!));
        if (!presented.IsValid) return Refuse(presented.Failure!);
        var identity = new ClaimsIdentity(Scheme.Name, BouncerVerifierClaims.Subject, BouncerVerifierClaims.Role);
        identity.AddClaim(new Claim(BouncerVerifierClaims.Subject, claims.Subject!));
        identity.AddClaim(new Claim(BouncerVerifierClaims.Issuer, result.Issuer!));
        if (claims.SessionId is not null) identity.AddClaim(new Claim(BouncerVerifierClaims.SessionId, claims.SessionId));
        if (claims.JwtId is not null) identity.AddClaim(new Claim(BouncerVerifierClaims.TokenId, claims.JwtId));
        if (claims.Scope is not null) identity.AddClaim(new Claim(BouncerVerifierClaims.Scope, claims.Scope));
        foreach (var role in claims.Roles) identity.AddClaim(new Claim(BouncerVerifierClaims.Role, role));
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name));
    }

    // BouncerVerifierOptions.PublicOrigin, else the first listen address (a wildcard host as localhost, which fails
    // closed: set PublicOrigin); as the Bouncer server's discovery origin.
    private string PublicOrigin()
    {
        if (settings.Value.PublicOrigin is { Length: > 0 } configured) return configured;
        var addresses = Context.RequestServices.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        foreach (var address in addresses)
            if (Uri.TryCreate(address.Replace("://+", "://localhost").Replace("://*", "://localhost").Replace("://0.0.0.0", "://localhost").Replace("://[::]", "://localhost"), UriKind.Absolute, out var bound))
                return bound.GetLeftPart(UriPartial.Authority);
        return "http://localhost";
    }

    private AuthenticateResult Refuse(string reason)
    {
        Context.Items[BouncerVerifierDefaults.FailureReasonItem] = reason;
        Logger.TokenRefused(reason);
        return AuthenticateResult.Fail(reason);
    }

    /// <summary>Answers 401 with an RFC 6750 (or, for DPoP, RFC 9449 7.1) <c>WWW-Authenticate</c> header.</summary>
    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var reason = Context.Items[BouncerVerifierDefaults.FailureReasonItem] as string;
        if (reason is FailureCodes.RevocationStateStale or FailureCodes.DpopReplayCacheFull)
        {
            // The token is not at fault: this service cannot vouch for it right now (RFC 9110 15.6.4).
            Response.Headers.RetryAfter = "1";
            return WriteProblemAsync(503, reason, "This service cannot check the credential right now; retry shortly.");
        }
        if (reason == FailureCodes.DpopKeyRateLimited)
        {
            // This key's share of the replay cache is used up; the token is fine, the client slows down (RFC 6585 4).
            Response.Headers.RetryAfter = "1";
            return WriteProblemAsync(429, reason, "Too many DPoP proofs by this key; retry shortly.");
        }
        bool dpopScheme = Context.Items.ContainsKey(DpopSchemeItem);
        bool dpopFailure = reason is not null && (reason.StartsWith("dpop_", StringComparison.Ordinal) || reason == FailureCodes.UseDpopNonce);
        if (dpopScheme || dpopFailure || settings.Value.Dpop.Mode == Bouncer.Dpop.DpopMode.Required)
        {
            var algs = verifier.Dpop.AlgorithmsChallenge;
            string dpop = reason is null ? $"DPoP algs=\"{algs}\""
                : $"DPoP error=\"{Bouncer.Dpop.DpopProofResult.ErrorFor(reason)}\", error_description=\"{reason}\", algs=\"{algs}\"";
            // RFC 9449 9: the nonce to use comes with the challenge that asks for it.
            if (reason == FailureCodes.UseDpopNonce && verifier.Dpop.CurrentNonce() is { } nonce) Response.Headers["DPoP-Nonce"] = nonce;
            // RFC 9449 7.1: a DPoP challenge; beside the Bearer one when the token came as Bearer.
            Response.Headers[HeaderNames.WWWAuthenticate] = dpopScheme ? dpop : new Microsoft.Extensions.Primitives.StringValues([
                reason is null ? "Bearer realm=\"bouncer\"" : $"Bearer realm=\"bouncer\", error=\"invalid_token\", error_description=\"{reason}\"",
                $"DPoP algs=\"{algs}\""]);
            return WriteProblemAsync(401, reason ?? FailureCodes.CredentialMissing, reason is null
                ? "This resource needs a DPoP-bound token."
                : "The credential was refused: " + reason + ".");
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
