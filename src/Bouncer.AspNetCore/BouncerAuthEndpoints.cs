using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using Bouncer.Access;
using Bouncer.Diagnostics;
using Bouncer.Refresh;
using Bouncer.Sessions;
using Bouncer.Tokens;
using Bouncer.Users;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Bouncer.AspNetCore;

/// <summary>
/// <c>/auth/register</c>, <c>/auth/login</c>, <c>/auth/refresh</c>, <c>/auth/logout</c>, <c>/auth/logout-all</c> and
/// the hybrid exchange <c>/auth/token</c>. Each handler translates HTTP to one engine call and back.
/// </summary>
public static class BouncerAuthEndpoints
{
    /// <summary>The body of register and login (unknown members are ignored, wrong types are a 400).</summary>
    public sealed record Credentials(string? Username, string? Password, string? Mode, string? Transport);

    /// <summary>The body of refresh; the token may come from the refresh cookie instead.</summary>
    public sealed record RefreshRequest([property: JsonPropertyName("refresh_token")] string? RefreshToken, string? Transport);

    /// <summary>The body of a password change.</summary>
    public sealed record PasswordRequest(
        [property: JsonPropertyName("current_password")] string? CurrentPassword,
        [property: JsonPropertyName("new_password")] string? NewPassword,
        [property: JsonPropertyName("sign_out_others")] bool? SignOutOthers,
        string? Transport);

    /// <summary>The body of the hybrid exchange.</summary>
    public sealed record ExchangeRequest(string? Audience);

    /// <summary>Maps the login, refresh and logout endpoints under <c>/auth</c>.</summary>
    public static IEndpointRouteBuilder MapBouncerAuth(this IEndpointRouteBuilder app)
    {
        if (!BouncerEndpointServices.Ready(app)) return app;
        var sp = app.ServiceProvider;
        var options = sp.GetRequiredService<IOptions<BouncerOptions>>().Value;
        var users = sp.GetRequiredService<UserService>();
        var sessions = sp.GetRequiredService<SessionManager>();
        var refresh = sp.GetRequiredService<RefreshTokenService>();
        var access = sp.GetRequiredService<AccessManager>();
        var audit = sp.GetRequiredService<BouncerAudit>();
        var metrics = sp.GetRequiredService<BouncerMetrics>();
        var throttle = sp.GetRequiredService<LoginThrottle>();
        var time = sp.GetRequiredService<TimeProvider>();
        var directory = sp.GetRequiredService<UserDirectory>();
        var listener = sp.GetRequiredService<Bouncer.Revocation.RevocationListener>();
        var tokens = new Lazy<BouncerTokens>(sp.GetRequiredService<BouncerTokens>);
        var dpop = sp.GetRequiredService<Bouncer.Dpop.DpopProofValidator>();
        // RFC 9449 5: a token request's proof names this endpoint; its key is what the new tokens are bound to.
        Bouncer.Dpop.DpopProofResult TokenRequestProof(HttpContext ctx, string audience) =>
            dpop.CheckTokenRequest(BouncerHttp.DpopProofs(ctx), ctx.Request.Method, BouncerHttp.DpopTargetUrl(ctx, options),
                options.Dpop.BindingRequiredFor(audience));

        var auth = app.MapGroup("/auth");
        auth.MapPost("/register", async (HttpContext ctx, CancellationToken ct) =>
        {
            if (!options.AllowRegistration) return BouncerProblems.Result(403, FailureCodes.RegistrationDisabled, "Self-service registration is off.");
            var body = await BouncerHttp.ReadAsync<Credentials>(ctx, ct);
            if (body is null) return BouncerHttp.BadBody();
            // Per address, like login: registration is a name oracle and a hashing cost (ASVS 2.2.1).
            if (!throttle.MayRegister(BouncerHttp.ClientAddress(ctx)))
            {
                metrics.Fail(FailureCodes.RateLimited);
                return BouncerProblems.Result(429, FailureCodes.RateLimited, "Too many registrations from this address; wait a minute.");
            }
            var roles = UserService.Normalize(body.Username) is { } n && n == options.BootstrapAdmin ? "admin" : "";
            var (outcome, username) = await access.CreateUserAsync(body.Username, body.Password, roles, "register", ct);
            return outcome switch
            {
                // One answer for created and taken: registration then tells nobody which names exist.
                UserOutcome.Ok or UserOutcome.Taken when options.UniformRegistration => Results.Json(new { status = "accepted" }, statusCode: 202),
                UserOutcome.Ok => Results.Json(new { username }, statusCode: 201),
                UserOutcome.Taken => BouncerProblems.Result(409, FailureCodes.UsernameTaken, "That username is taken."),
                _ => BouncerProblems.Result(400, FailureCodes.InvalidRequest, $"Username: 1-64 characters without spaces; password: at least {options.Users.MinPasswordLength} characters."),
            };
        });

        auth.MapPost("/login", async (HttpContext ctx, CancellationToken ct) =>
        {
            var body = await BouncerHttp.ReadAsync<Credentials>(ctx, ct);
            if (body is null) return BouncerHttp.BadBody();
            var mode = body.Mode?.ToLowerInvariant() ?? (options.Mode == BouncerMode.Jwt ? "jwt" : "session");
            if (mode is not ("session" or "jwt")) return BouncerProblems.Result(400, FailureCodes.InvalidRequest, "mode must be \"session\" or \"jwt\".");
            if ((mode == "session" && options.Mode == BouncerMode.Jwt) || (mode == "jwt" && options.Mode == BouncerMode.Session))
                return BouncerProblems.Result(400, FailureCodes.ModeNotEnabled, $"This deployment runs in {options.Mode} mode.");

            var ip = BouncerHttp.ClientAddress(ctx);
            using var turn = await throttle.TurnAsync(ip, ct);
            if (!turn.IsAcquired || !throttle.MayTry(ip)) return TooMany(metrics);
            // After the per-address throttle, so an address spends jti entries of the process's replay cache (RFC 9449
            // 11.1) no faster than it may try logins; before the password, so a refused proof costs no hash. A refused
            // proof counts as a failed login; use_dpop_nonce is the protocol's first step and a full cache is no fault.
            var proof = mode == "jwt" ? TokenRequestProof(ctx, options.Audience) : Bouncer.Dpop.DpopProofResult.Accepted(null);
            if (!proof.IsValid)
            {
                if (proof.Failure is not (FailureCodes.UseDpopNonce or FailureCodes.DpopReplayCacheFull)) throttle.Failed(ip);
                metrics.Fail(proof.Failure!);
                return BouncerProblems.DpopTokenError(ctx, proof, dpop.CurrentNonce());
            }
            var (outcome, user) = await users.AuthenticateAsync(body.Username, body.Password, ct);
            if (outcome != UserOutcome.Ok)
            {
                throttle.Failed(ip);
                var reason = outcome switch
                {
                    UserOutcome.Locked => FailureCodes.AccountLocked,
                    UserOutcome.Suspended => FailureCodes.UserSuspended,
                    _ => FailureCodes.InvalidCredentials,
                };
                metrics.Fail(reason);
                // The subject only when the account exists: a password typed into the name field must not reach the trail.
                var name = UserService.Normalize(body.Username);
                var subject = name is not null && await directory.GetAsync(name, ct) is not null ? name : null;
                await audit.RecordAsync(AuditEventKind.LoginFailed, subject, null, reason, ct);
                // Only an existing account can be locked or suspended: saying so tells a guesser the name exists.
                if (options.Users.RevealLockout && outcome == UserOutcome.Locked)
                    return BouncerProblems.Result(401, reason, "Too many failed logins: the account is locked for a while.");
                if (options.Users.RevealLockout && outcome == UserOutcome.Suspended)
                    return BouncerProblems.Result(401, reason, "The account is suspended.");
                return BouncerProblems.Result(401, FailureCodes.InvalidCredentials, "Unknown username or wrong password.");
            }

            metrics.Logins.Add(1, new KeyValuePair<string, object?>("mode", mode));
            await audit.RecordAsync(AuditEventKind.LoginSucceeded, user!.Username, null, mode);
            if (mode == "session")
            {
                // Session fixation defence: a session presented before login is ended, never promoted.
                if (ctx.Request.Cookies.TryGetValue(BouncerDefaults.SessionCookieName, out var previous))
                    await sessions.DeleteAsync(previous, ct);
                // When the user last proved the password (OIDC auth_time): the step-up checks build on it. Roles are
                // read from the account on every check, never copied here.
                var data = JsonSerializer.Serialize(new { auth_time = time.GetUtcNow().ToUnixTimeSeconds() });
                var (_, id) = await sessions.CreateAsync(user.Username, data, BouncerHttp.ClientSummary(ctx), ct);
                BouncerHttp.SetSessionCookie(ctx, options, id);
                if (options.RequireAntiforgeryToken) ctx.Response.Headers["X-CSRF-Token"] = BouncerRequestMiddleware.AntiforgeryToken(refresh, id);
                return Results.NoContent();
            }
            var issued = await refresh.IssueAsync(user.Username, string.IsNullOrEmpty(user.Roles) ? null : user.Roles, ct, time.GetUtcNow(), proof.Thumbprint);
            return TokenPair(ctx, tokens.Value, issued, body.Transport, dpop.CurrentNonce());
        });

        auth.MapPost("/refresh", async (HttpContext ctx, CancellationToken ct) =>
        {
            if (options.Mode == BouncerMode.Session) return BouncerProblems.Result(400, FailureCodes.ModeNotEnabled, "This deployment runs in session mode.");
            if (!throttle.MayRefresh(BouncerHttp.ClientAddress(ctx)))
            {
                metrics.Fail(FailureCodes.RateLimited);
                ctx.Response.Headers.RetryAfter = "60";
                return BouncerProblems.Result(429, FailureCodes.RateLimited, "Too many refreshes from this address; wait a minute.");
            }
            var body = ctx.Request.ContentLength is > 0 || ctx.Request.HasJsonContentType() ? await BouncerHttp.ReadAsync<RefreshRequest>(ctx, ct) : new RefreshRequest(null, null);
            if (body is null) return BouncerHttp.BadBody();
            var fromCookie = body.RefreshToken is null && ctx.Request.Cookies.TryGetValue(BouncerDefaults.RefreshCookieName, out var cookie) ? cookie : null;
            var proof = TokenRequestProof(ctx, options.Audience);
            if (!proof.IsValid)
            {
                metrics.Fail(proof.Failure!);
                return BouncerProblems.DpopTokenError(ctx, proof, dpop.CurrentNonce());
            }
            var result = await refresh.RefreshAsync(body.RefreshToken ?? fromCookie, proof.Thumbprint, ct);
            metrics.Refreshes.Add(1, new KeyValuePair<string, object?>("outcome", result.Outcome.ToString()));
            if (result.Outcome == RefreshOutcome.DpopKeyMismatch)
            {
                // RFC 9449 5: the family is bound; without a proof by its key the token is worth nothing (the family stays).
                var reason = proof.Thumbprint is null ? FailureCodes.DpopProofMissing : FailureCodes.DpopKeyMismatch;
                metrics.Fail(reason);
                return BouncerProblems.DpopTokenError(ctx, Bouncer.Dpop.DpopProofResult.Refused(reason), dpop.CurrentNonce());
            }
            if (result.Outcome == RefreshOutcome.RateLimited)
            {
                // The token stays good: a well-behaved client retries after the window.
                metrics.Fail(FailureCodes.RateLimited);
                ctx.Response.Headers.RetryAfter = "60";
                return BouncerProblems.Result(429, FailureCodes.RateLimited, "Too many refreshes of this token's family; wait a minute.");
            }
            if (!result.Succeeded)
            {
                metrics.Fail(result.ReasonCode!);
                if (fromCookie is not null) BouncerHttp.ClearRefreshCookie(ctx);
                return BouncerProblems.Result(401, result.ReasonCode!, "The refresh token was refused: " + result.ReasonCode + ".");
            }
            return TokenPair(ctx, tokens.Value, result, fromCookie is not null ? "cookie" : body.Transport, dpop.CurrentNonce(), proof.Thumbprint);
        });

        // Logout ends the refresh family whenever its refresh token is presented (in the body, or as the refresh cookie,
        // which reaches only paths under /auth/refresh), whatever the access token's state: an expired or missing access
        // token must not leave the long-lived credential alive (RFC 9700 2.2.2; RFC 7009 2.1 lets its holder revoke it).
        // A DPoP-bound family's holder is whoever has its key, so ending it takes a proof by that key, as refreshing does.
        async Task<IResult> Logout(HttpContext ctx, ClaimsPrincipal user, CancellationToken ct)
        {
            var body = ctx.Request.ContentLength is > 0 || ctx.Request.HasJsonContentType() ? await BouncerHttp.ReadAsync<RefreshRequest>(ctx, ct) : new RefreshRequest(null, null);
            if (body is null) return BouncerHttp.BadBody();
            var fromCookie = body.RefreshToken is null && ctx.Request.Cookies.TryGetValue(BouncerDefaults.RefreshCookieName, out var cookie) ? cookie : null;
            var presented = body.RefreshToken ?? fromCookie;
            string? ended = null;
            if (presented is not null && await refresh.FindAsync(presented, ct) is { } family)
            {
                // RFC 9449 5: the bound refresh token alone is worth nothing (RefreshOutcome.DpopKeyMismatch leaves the family
                // alone); a bound access token on this request was already checked with a proof by its key, which counts.
                if (!family.Revoked && family.DpopJkt is { } jkt && ctx.Items[BouncerHttp.DpopProofKeyItem] as string != jkt)
                {
                    var proofs = BouncerHttp.DpopProofs(ctx);
                    var proof = proofs.Count switch
                    {
                        0 => Bouncer.Dpop.DpopProofResult.Refused(FailureCodes.DpopProofMissing),
                        1 => dpop.Validate(proofs[0], ctx.Request.Method, BouncerHttp.DpopTargetUrl(ctx, options), accessToken: null, boundThumbprint: jkt),
                        // RFC 9449 4.3 step 1: exactly one DPoP header field.
                        _ => Bouncer.Dpop.DpopProofResult.Refused(FailureCodes.DpopProofInvalid),
                    };
                    if (!proof.IsValid)
                    {
                        metrics.Fail(proof.Failure!);
                        if (proof.Failure is FailureCodes.DpopReplayCacheFull or FailureCodes.DpopKeyRateLimited)
                            return BouncerProblems.DpopTokenError(ctx, proof, dpop.CurrentNonce());
                        // RFC 9449 7.1: 401 with a DPoP challenge naming the error (and the nonce for use_dpop_nonce).
                        await BouncerProblems.WriteDpopUnauthorizedAsync(ctx, proof.Failure, dpopScheme: true, dpop.AlgorithmsChallenge, dpop.CurrentNonce());
                        return Results.Empty;
                    }
                }
                if (!family.Revoked) await access.EndTokenAsync(family.UserId, family.FamilyId, "logout", ct);
                ended = family.FamilyId;
            }

            var sid = user.FindFirstValue(BouncerClaims.SessionId);
            if (BouncerHttp.Via(user) == "session")
            {
                ctx.Request.Cookies.TryGetValue(BouncerDefaults.SessionCookieName, out var id);
                await sessions.DeleteAsync(id, ct);
                BouncerHttp.ClearSessionCookie(ctx, options);
                BouncerHttp.ClearSiteCookies(ctx);
            }
            else if (sid is not null)
            {
                if (sid != ended) await access.EndTokenAsync(user.FindFirstValue(BouncerClaims.Subject)!, sid, "logout", ct);
                BouncerHttp.ClearRefreshCookie(ctx);
            }
            // RFC 7009 2.2: a refresh token that is unknown or already ended is not an error: it is unusable either way.
            else if (presented is not null)
            {
                BouncerHttp.ClearRefreshCookie(ctx);
            }
            // Neither a live credential nor a refresh token: the 401 names why (credential_missing, token_expired, ...).
            else
            {
                return Results.Challenge();
            }
            return Results.NoContent();
        }
        auth.MapPost("/logout", Logout);
        // The same logout where the refresh cookie reaches it (its Path is /auth/refresh): a browser client logs out
        // here, so its refresh family ends even when its access token has expired.
        auth.MapPost("/refresh/logout", Logout);

        auth.MapPost("/logout-all", async (HttpContext ctx, ClaimsPrincipal user, CancellationToken ct) =>
        {
            await access.RevokeUserAsync(user.FindFirstValue(BouncerClaims.Subject)!, "logout_all", ct);
            BouncerHttp.ClearSessionCookie(ctx, options);
            BouncerHttp.ClearRefreshCookie(ctx);
            BouncerHttp.ClearSiteCookies(ctx);
            return Results.NoContent();
        }).RequireAuthorization();

        // Change the password with the current one (OWASP ASVS 6.2.3); by default every other session and refresh
        // family ends, and the caller's own session gets a new id (or a token caller a new pair).
        auth.MapPost("/password", async (HttpContext ctx, ClaimsPrincipal user, CancellationToken ct) =>
        {
            var body = await BouncerHttp.ReadAsync<PasswordRequest>(ctx, ct);
            if (body is null || body.CurrentPassword is null || body.NewPassword is null) return BouncerHttp.BadBody();
            var viaSession = BouncerHttp.Via(user) == "session";
            string? sessionId = null;
            if (viaSession) ctx.Request.Cookies.TryGetValue(BouncerDefaults.SessionCookieName, out sessionId);
            var ip = BouncerHttp.ClientAddress(ctx);
            using var turn = await throttle.TurnAsync(ip, ct);
            if (!turn.IsAcquired || !throttle.MayTry(ip)) return TooMany(metrics);
            // A DPoP-bound caller's new pair is bound to the key it just proved (RFC 9449 5), not handed out as bearer tokens.
            var boundKey = ctx.Items[BouncerHttp.DpopProofKeyItem] as string;
            var change = await access.ChangePasswordAsync(user.FindFirstValue(BouncerClaims.Subject)!, body.CurrentPassword, body.NewPassword,
                body.SignOutOthers ?? true, sessionId, reissueTokens: !viaSession, boundKey, ct);
            switch (change.Outcome)
            {
                case UserOutcome.Ok:
                    break;
                case UserOutcome.Invalid:
                    return BouncerProblems.Result(400, FailureCodes.InvalidRequest, $"The new password needs at least {options.Users.MinPasswordLength} characters.");
                default:
                    throttle.Failed(ip);
                    metrics.Fail(FailureCodes.InvalidCredentials);
                    return BouncerProblems.Result(401, FailureCodes.InvalidCredentials, "The current password is wrong.");
            }
            if (change.SessionId is { } id)
            {
                BouncerHttp.SetSessionCookie(ctx, options, id);
                if (options.RequireAntiforgeryToken) ctx.Response.Headers["X-CSRF-Token"] = BouncerRequestMiddleware.AntiforgeryToken(refresh, id);
            }
            if (change.Tokens is { } pair) return TokenPair(ctx, tokens.Value, pair, body.Transport, null, boundKey);
            return Results.NoContent();
        }).RequireAuthorization();

        auth.MapPost("/token", async (HttpContext ctx, ClaimsPrincipal user, CancellationToken ct) =>
        {
            if (options.Mode != BouncerMode.Hybrid) return BouncerProblems.Result(400, FailureCodes.ModeNotEnabled, "The exchange needs hybrid mode.");
            if (BouncerHttp.Via(user) != "session") return BouncerProblems.Result(403, FailureCodes.SessionRequired, "The exchange takes a session, not a token.");
            var body = await BouncerHttp.ReadAsync<ExchangeRequest>(ctx, ct);
            if (body?.Audience is not { Length: > 0 and <= 256 } audience) return BouncerProblems.Result(400, FailureCodes.InvalidRequest, "audience is required.");
            if (options.DownstreamAudiences.Count > 0 && !options.DownstreamAudiences.Contains(audience))
                return BouncerProblems.Result(403, FailureCodes.AudienceNotAllowed, "This deployment does not mint tokens for that audience.");
            var proof = TokenRequestProof(ctx, audience);
            if (!proof.IsValid)
            {
                metrics.Fail(proof.Failure!);
                return BouncerProblems.DpopTokenError(ctx, proof, dpop.CurrentNonce());
            }
            var subject = user.FindFirstValue(BouncerClaims.Subject)!;
            // Minted at or after the user's latest cut-off, which may start at the next whole second (a role change).
            var notBefore = listener.Set.NotBefore(subject);
            var now = time.GetUtcNow();
            var token = tokens.Value.Signer.Issue(new TokenRequest
            {
                IssuedAt = notBefore > now.ToUnixTimeSeconds() ? DateTimeOffset.FromUnixTimeSeconds(notBefore) : now,
                Subject = subject,
                SessionId = user.FindFirstValue(BouncerClaims.SessionId),
                Audience = audience,
                Lifetime = options.ExchangeTokenLifetime,
                Roles = user.FindAll(BouncerClaims.Role).Select(c => c.Value).ToList(),
                // The session's login proved the password then (OIDC auth_time), not this exchange.
                AuthTime = SessionAuthTime(ctx.Items[SessionAuthenticationHandler.SessionItem] as Session),
                ConfirmationKeyThumbprint = proof.Thumbprint,
            });
            if (dpop.CurrentNonce() is { } nonce) ctx.Response.Headers["DPoP-Nonce"] = nonce;
            // RFC 9449 5: token_type DPoP says the token is bound and goes with the DPoP scheme.
            return Results.Json(new { access_token = token, token_type = proof.Thumbprint is null ? "Bearer" : "DPoP", expires_in = (int)options.ExchangeTokenLifetime.TotalSeconds });
        }).RequireAuthorization();
        return app;
    }

    // jkt: the key of this request's proof, else the family's; the access token is bound to it (RFC 9449 6.1).
    private static IResult TokenPair(HttpContext ctx, BouncerTokens tokens, RefreshResult result, string? transport, string? nonce, string? jkt = null)
    {
        var grant = result.Access!;
        jkt ??= grant.DpopJkt;
        // RFC 9449 8: a fresh nonce may come with any answer; the client uses it in its next proof.
        if (nonce is not null) ctx.Response.Headers["DPoP-Nonce"] = nonce;
        var tokenType = jkt is null ? "Bearer" : "DPoP";
        var access = tokens.Signer.Issue(new TokenRequest
        {
            Subject = grant.Subject,
            SessionId = grant.Sid,
            JwtId = grant.Jti,
            IssuedAt = grant.IssuedAt,
            Lifetime = grant.ExpiresAt - grant.IssuedAt,
            Roles = grant.Scope?.Split(' ', StringSplitOptions.RemoveEmptyEntries),
            AuthTime = grant.AuthTime,
            ConfirmationKeyThumbprint = jkt,
        });
        var expiresIn = (int)(grant.ExpiresAt - grant.IssuedAt).TotalSeconds;
        if (transport == "cookie")
        {
            // Browser clients: the refresh token never reaches script; only the refresh path receives it.
            ctx.Response.Cookies.Append(BouncerDefaults.RefreshCookieName, result.RefreshToken!, new CookieOptions
            {
                HttpOnly = true,
                Secure = true,
                SameSite = SameSiteMode.Strict,
                Path = "/auth/refresh",
                Expires = result.RefreshExpiresAt,
            });
            return Results.Json(new { access_token = access, token_type = tokenType, expires_in = expiresIn });
        }
        return Results.Json(new { access_token = access, token_type = tokenType, expires_in = expiresIn, refresh_token = result.RefreshToken });
    }

    // The auth_time the session login wrote into the session data ({"auth_time": unix seconds}); null when the data
    // holds none (a session created by the app, or before auth_time was recorded).
    private static DateTimeOffset? SessionAuthTime(Session? session)
    {
        if (session?.Data is not { Length: > 0 } data) return null;
        try
        {
            using var doc = JsonDocument.Parse(data);
            return doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("auth_time", out var value)
                && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var seconds)
                && seconds is >= 0 and <= 253402300799
                ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static IResult TooMany(BouncerMetrics metrics)
    {
        metrics.Fail(FailureCodes.RateLimited);
        return BouncerProblems.Result(429, FailureCodes.RateLimited, "Too many failed logins from this address; wait a minute.");
    }
}
