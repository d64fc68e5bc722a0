using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Bouncer.Revocation;
using Bouncer.Tokens;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Bouncer.AspNetCore;

/// <summary>
/// Authenticates <c>Authorization: Bearer</c> access tokens: strict JWS verification with the key ring,
/// then the in-memory revocation check (no I/O unless the revocation state is stale and the policy
/// falls back to the store). Challenges follow RFC 6750 3.
/// </summary>
public sealed class BearerAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, BouncerRuntime runtime)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (runtime.Options.Mode == BouncerMode.Session) return AuthenticateResult.NoResult();
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header) || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return AuthenticateResult.NoResult();
        var token = header.AsSpan(7).Trim();

        var trace = BouncerTrace.Current;
        trace?.Strategy = "jwt";
        trace?.CredentialBytes = token.Length;
        if (trace is not null) trace.SignatureChecks++;
        runtime.Metrics.Verifications.Add(1, new KeyValuePair<string, object?>("strategy", "jwt"));

        // A compact JWS is ASCII only (RFC 7515 7.1): anything else is malformed, and refusing it here
        // keeps the one-byte-per-char copy below exact (a non-ASCII char overflowed it: a 500).
        if (!System.Text.Ascii.IsValid(token)) return Refuse(VerifyFailure.Malformed.ToCode());

        // The verifier works on UTF-8 bytes; a token is ASCII, and the size cap inside bounds the copy.
        Span<byte> utf8 = token.Length <= 8192 ? stackalloc byte[token.Length] : new byte[token.Length];
        var written = Encoding.UTF8.GetBytes(token, utf8);
        AccessClaims claims;
        {
            var result = runtime.Verifier.Verify(utf8[..written]);
            if (!result.IsValid) return Refuse(result.Failure.ToCode());
            claims = result.GetAccessClaims();
        }
        var (sub, sid, jti, _, _, iat) = claims;
        iat = Math.Max(iat, 0);
        if (string.IsNullOrEmpty(sub)) return Refuse("missing_sub");
        if (runtime.Options.Demo && runtime.DemoClockOffsets.TryGetValue(sub, out var ahead))
        {
            var late = runtime.VerifierAhead(ahead).Verify(utf8[..written]);
            if (!late.IsValid) return Refuse(late.Failure.ToCode());
        }

        if (runtime.PushEnabled)
        {
            if (trace is not null) trace.RevocationChecks++;
            var verdict = await runtime.Revocations.CheckAsync(sid, jti, sub, iat, Context.RequestAborted).ConfigureAwait(false);
            if (verdict == RevocationVerdict.Revoked) return Refuse("token_revoked");
            if (verdict == RevocationVerdict.Stale) return Refuse("revocation_state_stale");
        }

        var identity = new ClaimsIdentity(BouncerDefaults.BearerScheme, BouncerClaims.Subject, BouncerClaims.Role);
        identity.AddClaim(new Claim(BouncerClaims.Subject, sub));
        if (sid is not null) identity.AddClaim(new Claim(BouncerClaims.SessionId, sid));
        if (jti is not null) identity.AddClaim(new Claim(BouncerClaims.TokenId, jti));
        if (claims.Scope is not null) identity.AddClaim(new Claim(BouncerClaims.Scope, claims.Scope));
        identity.AddClaim(new Claim(BouncerClaims.Via, "jwt"));
        foreach (var role in claims.Roles) identity.AddClaim(new Claim(BouncerClaims.Role, role));
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), BouncerDefaults.BearerScheme));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        BouncerProblems.WriteUnauthorizedAsync(Context, bearer: true);

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        // RFC 6750 3.1: insufficient_scope for a valid token lacking the privileges.
        Response.Headers[HeaderNames.WWWAuthenticate] = "Bearer realm=\"bouncer\", error=\"insufficient_scope\"";
        return BouncerProblems.WriteAsync(Context, 403, "forbidden", "The token is valid but lacks the required role.");
    }

    private AuthenticateResult Refuse(string reason)
    {
        Context.Items[BouncerClaims.FailureReasonItem] = reason;
        BouncerTrace.Current?.Reason = reason;
        runtime.Metrics.Fail(reason);
        return AuthenticateResult.Fail(reason);
    }
}
