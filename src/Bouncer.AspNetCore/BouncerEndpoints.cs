using System.Buffers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.RateLimiting;
using Bouncer.Refresh;
using Bouncer.Revocation;
using Bouncer.Sessions;
using Bouncer.Tokens;
using Bouncer.Users;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bouncer.AspNetCore;

/// <summary>The HTTP surface: auth endpoints, JWKS, discovery, revocation feed, the sample resource.</summary>
public static partial class BouncerEndpoints
{
    /// <summary>Request bodies: anything else (unknown members are ignored, wrong types are a 400).</summary>
    public sealed record Credentials(string? Username, string? Password, string? Mode, string? Transport);
    public sealed record RefreshRequest([property: JsonPropertyName("refresh_token")] string? RefreshToken, string? Transport);
    public sealed record ExchangeRequest(string? Audience);

    /// <summary>Maps every Bouncer endpoint. Call after <c>UseBouncer()</c>.</summary>
    public static IEndpointRouteBuilder MapBouncerEndpoints(this IEndpointRouteBuilder app)
    {
        var runtime = app.ServiceProvider.GetRequiredService<BouncerRuntime>();
        var audit = app.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger("Bouncer.Audit");
        // Login failures per client address: floods and guessing get 429, a person on a few devices never does.
        var failures = PartitionedRateLimiter.Create<string, string>(ip => RateLimitPartition.GetFixedWindowLimiter(ip,
            _ => new FixedWindowRateLimiterOptions { PermitLimit = runtime.Options.LoginFailuresPerMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
        // A failure is counted when its password check ends, so a burst sent in parallel would all pass the probe
        // before the first is counted. A few checks per address run at once and the rest wait their turn (then meet
        // the probe); a flood past the queue is refused at once.
        var inFlight = PartitionedRateLimiter.Create<string, string>(ip => RateLimitPartition.GetConcurrencyLimiter(ip,
            _ => new ConcurrencyLimiterOptions { PermitLimit = LoginChecksPerAddress, QueueLimit = 64, QueueProcessingOrder = QueueProcessingOrder.OldestFirst }));

        var auth = app.MapGroup("/auth");
        auth.MapPost("/register", async (HttpContext ctx, CancellationToken ct) =>
        {
            if (!runtime.Options.AllowRegistration) return BouncerProblems.Result(403, "registration_disabled", "Self-service registration is off.");
            var body = await ReadAsync<Credentials>(ctx, ct);
            if (body is null) return BadBody();
            var roles = UserService.Normalize(body.Username) is { } n && n == runtime.Options.BootstrapAdmin ? "admin" : "";
            var (outcome, username) = await runtime.Users.RegisterAsync(body.Username, body.Password, roles, ct);
            return outcome switch
            {
                UserOutcome.Ok => Results.Json(new { username }, statusCode: 201),
                UserOutcome.Taken => BouncerProblems.Result(409, "username_taken", "That username is taken."),
                _ => BouncerProblems.Result(400, "invalid_request", $"Username: 1-64 characters without spaces; password: at least {runtime.Options.Users.MinPasswordLength} characters."),
            };
        });

        auth.MapPost("/login", async (HttpContext ctx, CancellationToken ct) =>
        {
            var body = await ReadAsync<Credentials>(ctx, ct);
            if (body is null) return BadBody();
            var mode = body.Mode?.ToLowerInvariant() ?? (runtime.Options.Mode == BouncerMode.Jwt ? "jwt" : "session");
            if (mode is not ("session" or "jwt")) return BouncerProblems.Result(400, "invalid_request", "mode must be \"session\" or \"jwt\".");
            if ((mode == "session" && runtime.Options.Mode == BouncerMode.Jwt) || (mode == "jwt" && runtime.Options.Mode == BouncerMode.Session))
                return BouncerProblems.Result(400, "mode_not_enabled", $"This deployment runs in {runtime.Options.Mode} mode.");

            var ip = ctx.Connection.RemoteIpAddress?.ToString() ?? "unknown";
            using var turn = await inFlight.AcquireAsync(ip, 1, ct);
            if (!turn.IsAcquired) return TooMany(runtime);
            using (var probe = failures.AttemptAcquire(ip, 0))
            {
                if (!probe.IsAcquired) return TooMany(runtime);
            }
            var (outcome, user) = await runtime.Users.AuthenticateAsync(body.Username, body.Password, ct);
            if (outcome != UserOutcome.Ok)
            {
                failures.AttemptAcquire(ip, 1).Dispose();
                var reason = outcome == UserOutcome.Locked ? "account_locked" : "invalid_credentials";
                runtime.Metrics.Fail(reason);
                LogLoginFailed(audit, reason, ip);
                return outcome == UserOutcome.Locked && runtime.Options.Users.RevealLockout
                    ? BouncerProblems.Result(401, reason, "Too many failed logins: the account is locked for a while.")
                    : BouncerProblems.Result(401, "invalid_credentials", "Unknown username or wrong password.");
            }

            runtime.Metrics.Logins.Add(1, new KeyValuePair<string, object?>("mode", mode));
            runtime.DemoClockOffsets.TryRemove(user!.Username, out _);
            LogLoginSucceeded(audit, user!.Username, mode, ip);
            if (mode == "session")
            {
                // Session fixation defence: a session presented before login is ended, never promoted.
                if (ctx.Request.Cookies.TryGetValue(BouncerDefaults.SessionCookieName, out var previous))
                    await runtime.Sessions.DeleteAsync(previous, ct);
                var data = JsonSerializer.Serialize(new { roles = user.Roles });
                var (_, id) = await runtime.Sessions.CreateAsync(user.Username, data, ClientSummary(ctx), ct);
                SetSessionCookie(ctx, runtime, id);
                if (runtime.Options.RequireAntiforgeryToken) ctx.Response.Headers["X-CSRF-Token"] = BouncerRequestMiddleware.AntiforgeryToken(runtime, id);
                return Results.NoContent();
            }
            var issued = await runtime.Refresh.IssueAsync(user.Username, string.IsNullOrEmpty(user.Roles) ? null : user.Roles, ct);
            return TokenPair(ctx, runtime, issued, body.Transport);
        });

        auth.MapPost("/refresh", async (HttpContext ctx, CancellationToken ct) =>
        {
            if (runtime.Options.Mode == BouncerMode.Session) return BouncerProblems.Result(400, "mode_not_enabled", "This deployment runs in session mode.");
            var body = ctx.Request.ContentLength is > 0 || ctx.Request.HasJsonContentType() ? await ReadAsync<RefreshRequest>(ctx, ct) : new RefreshRequest(null, null);
            if (body is null) return BadBody();
            var fromCookie = body.RefreshToken is null && ctx.Request.Cookies.TryGetValue(BouncerDefaults.RefreshCookieName, out var cookie) ? cookie : null;
            var result = await runtime.Refresh.RefreshAsync(body.RefreshToken ?? fromCookie, ct);
            runtime.Metrics.Refreshes.Add(1, new KeyValuePair<string, object?>("outcome", result.Outcome.ToString()));
            if (!result.Succeeded)
            {
                runtime.Metrics.Fail(result.ReasonCode!);
                if (result.Outcome == RefreshOutcome.ReuseDetected) LogReuse(audit, ctx.Connection.RemoteIpAddress?.ToString() ?? "unknown");
                if (fromCookie is not null) ClearRefreshCookie(ctx);
                return BouncerProblems.Result(401, result.ReasonCode!, "The refresh token was refused: " + result.ReasonCode + ".");
            }
            return TokenPair(ctx, runtime, result, fromCookie is not null ? "cookie" : body.Transport);
        });

        auth.MapPost("/logout", async (HttpContext ctx, ClaimsPrincipal user, CancellationToken ct) =>
        {
            var sid = user.FindFirstValue(BouncerClaims.SessionId);
            if (Via(user) == "session")
            {
                ctx.Request.Cookies.TryGetValue(BouncerDefaults.SessionCookieName, out var id);
                await runtime.Sessions.DeleteAsync(id, ct);
                ctx.Response.Cookies.Delete(BouncerDefaults.SessionCookieName, CookieOptions(runtime));
            }
            else if (sid is not null)
            {
                var subject = user.FindFirstValue(BouncerClaims.Subject)!;
                // A hybrid exchange token names its session (sid = the session handle): logging out with it ends that
                // session, which also refuses the token. A JWT-mode token names its refresh family instead.
                if (SessionKey.TryParseHandle(sid, out var key) && await runtime.Sessions.Store.GetAsync(key, ct) is { } session && session.UserId == subject)
                    await runtime.Sessions.Store.DeleteAsync(key, ct);
                else
                    await runtime.Refresh.RevokeFamilyAsync(subject, sid, "logout", ct);
                ClearRefreshCookie(ctx);
            }
            runtime.Metrics.Revocations.Add(1, new KeyValuePair<string, object?>("kind", "logout"));
            return Results.NoContent();
        }).RequireAuthorization();

        auth.MapPost("/logout-all", async (HttpContext ctx, ClaimsPrincipal user, CancellationToken ct) =>
        {
            await RevokeUserAsync(runtime, user.FindFirstValue(BouncerClaims.Subject)!, "logout_all", ct);
            ctx.Response.Cookies.Delete(BouncerDefaults.SessionCookieName, CookieOptions(runtime));
            ClearRefreshCookie(ctx);
            return Results.NoContent();
        }).RequireAuthorization();

        auth.MapGet("/sessions", async (ClaimsPrincipal user, CancellationToken ct) =>
        {
            var current = user.FindFirstValue(BouncerClaims.SessionId);
            var sessions = await runtime.Sessions.ListUserAsync(user.FindFirstValue(BouncerClaims.Subject)!, ct);
            return Results.Json(sessions.Select(s => new
            {
                id = s.Handle,
                device = s.Client,
                created = s.CreatedAt,
                last_seen = s.LastSeenAt,
                expires = s.ExpiresAt,
                current = s.Handle == current,
            }));
        }).RequireAuthorization();

        auth.MapDelete("/sessions/{id}", async (string id, ClaimsPrincipal user, CancellationToken ct) =>
        {
            var deleted = await runtime.Sessions.DeleteUserSessionAsync(user.FindFirstValue(BouncerClaims.Subject)!, id, ct);
            if (!deleted) return BouncerProblems.Result(404, "session_not_found", "No such session of yours.");
            return Results.NoContent();
        }).RequireAuthorization();

        auth.MapPost("/token", async (HttpContext ctx, ClaimsPrincipal user, CancellationToken ct) =>
        {
            if (runtime.Options.Mode != BouncerMode.Hybrid) return BouncerProblems.Result(400, "mode_not_enabled", "The exchange needs hybrid mode.");
            if (Via(user) != "session") return BouncerProblems.Result(403, "session_required", "The exchange takes a session, not a token.");
            var body = await ReadAsync<ExchangeRequest>(ctx, ct);
            if (body?.Audience is not { Length: > 0 and <= 256 } audience) return BouncerProblems.Result(400, "invalid_request", "audience is required.");
            if (runtime.Options.DownstreamAudiences.Count > 0 && !runtime.Options.DownstreamAudiences.Contains(audience))
                return BouncerProblems.Result(403, "audience_not_allowed", "This deployment does not mint tokens for that audience.");
            var token = runtime.TokenIssuer.Issue(new TokenRequest
            {
                Subject = user.FindFirstValue(BouncerClaims.Subject)!,
                SessionId = user.FindFirstValue(BouncerClaims.SessionId),
                Audience = audience,
                Lifetime = runtime.Options.ExchangeTokenLifetime,
                Roles = user.FindAll(BouncerClaims.Role).Select(c => c.Value).ToList(),
            });
            return Results.Json(new { access_token = token, token_type = "Bearer", expires_in = (int)runtime.Options.ExchangeTokenLifetime.TotalSeconds });
        }).RequireAuthorization();

        auth.MapGet("/revocations", async (HttpContext ctx, long? after, int? wait, int? heartbeat, CancellationToken ct) =>
        {
            if (runtime.Options.RevocationFeedKey is { Length: > 0 } key)
            {
                if (!SecretEquals(ctx.Request.Headers["X-Bouncer-Feed-Key"].ToString(), key))
                    return BouncerProblems.Result(401, "feed_key_invalid", "The revocation feed needs the X-Bouncer-Feed-Key header.");
            }
            var cursor = Math.Max(0, after ?? 0);
            var entries = await runtime.Stores.Revocations.ReadAfterAsync(cursor, 1000, ct);
            // Long-poll: hold an empty answer until something is pushed or the wait ends. The log is
            // re-read at least every second, so a push that raced the first read is never waited out.
            var deadline = runtime.Time.GetUtcNow() + TimeSpan.FromSeconds(Math.Clamp(wait ?? 25, 0, 60));
            // With heartbeat=1 a held answer starts at once and gets a space (insignificant JSON whitespace) every
            // second, so a verifier tells a quiet feed from a hung connection in seconds rather than at its timeout.
            bool beating = heartbeat == 1 && entries.Count == 0 && runtime.Time.GetUtcNow() < deadline;
            if (beating)
            {
                ctx.Response.ContentType = "application/json; charset=utf-8";
                ctx.Response.Headers[FeedHeartbeatHeader] = "1";
                // Ask proxies to pass the beats on as they come (nginx buffers and may compress otherwise).
                ctx.Response.Headers["X-Accel-Buffering"] = "no";
                ctx.Response.Headers.CacheControl = "no-store, no-transform";
                await ctx.Response.StartAsync(ct);
            }
            var lastRead = runtime.Time.GetUtcNow();
            while (entries.Count == 0 && runtime.Time.GetUtcNow() < deadline && !ct.IsCancellationRequested)
            {
                await runtime.WaitForNextRevocationAsync(TimeSpan.FromSeconds(1), ct);
                // Every held poll re-reading the log each second would cost one store read per waiter per second.
                // This instance's own listener knows how far the log goes: read when it has seen past this cursor
                // (or is not connected, so cannot tell), and every 5 s regardless as a safety net.
                var now = runtime.Time.GetUtcNow();
                if (!runtime.Revocations.IsConnected || runtime.Revocations.Cursor > cursor || now - lastRead >= TimeSpan.FromSeconds(5))
                {
                    lastRead = now;
                    entries = await runtime.Stores.Revocations.ReadAfterAsync(cursor, 1000, ct);
                }
                if (beating && entries.Count == 0)
                {
                    await ctx.Response.Body.WriteAsync(" "u8.ToArray(), ct);
                    await ctx.Response.Body.FlushAsync(ct);
                }
            }
            var page = new
            {
                cursor = entries.Count > 0 ? entries[^1].Cursor : cursor,
                revocations = entries.Select(e => new
                {
                    cursor = e.Cursor,
                    kind = e.Revocation.Kind.ToString().ToLowerInvariant(),
                    subject = e.Revocation.Subject,
                    at = e.Revocation.At.ToUnixTimeMilliseconds(),
                    expires_at = e.Revocation.ExpiresAt.ToUnixTimeMilliseconds(),
                }),
            };
            if (!beating) return Results.Json(page);
            await JsonSerializer.SerializeAsync(ctx.Response.Body, page, JsonSerializerOptions.Web, ct);
            return Results.Empty;
        });

        app.MapPost("/admin/users/{username}/revoke", async (string username, CancellationToken ct) =>
        {
            var name = UserService.Normalize(username);
            if (name is null) return BouncerProblems.Result(400, "invalid_request", "Bad username.");
            await RevokeUserAsync(runtime, name, "admin_revoke", ct);
            return Results.NoContent();
        }).RequireAuthorization(BouncerDefaults.AdminPolicy);

        // Adds a key that is published now and signs after KeyPrePublicationDelay; older keys keep verifying until
        // every token they signed has expired (KeyRing). HS256 deployments have no public keys to rotate here.
        app.MapPost("/admin/keys/rotate", async (CancellationToken ct) =>
        {
            if (runtime.Options.SigningAlgorithm == JwsAlgorithm.HS256)
                return BouncerProblems.Result(400, "symmetric_keys", "HS256 keys are not rotated through this endpoint.");
            SigningKey key;
            try
            {
                key = await runtime.Keys.RotateAsync(ct);
            }
            catch (Exception e) when (e is KeyLoadException or InvalidOperationException)
            {
                // The stored set is refused, or kept changing under the compare-and-set: nothing was saved.
                return BouncerProblems.Result(409, "key_rotation_failed", "The stored key set could not be updated; nothing changed. Try again.");
            }
            LogKeyRotated(audit, key.KeyId!);
            return Results.Json(new { kid = key.KeyId, signs_from = runtime.Time.GetUtcNow() + runtime.Options.KeyPrePublicationDelay });
        }).RequireAuthorization(BouncerDefaults.AdminPolicy);

        app.MapGet("/.well-known/jwks.json", () =>
            runtime.Options.SigningAlgorithm == JwsAlgorithm.HS256
                ? Results.Content("{\"keys\":[]}", "application/jwk-set+json")
                : Results.Content(runtime.Keys.GetPublicJwks(), "application/jwk-set+json"));

        app.MapGet("/.well-known/openid-configuration", (HttpContext ctx) =>
        {
            var origin = $"{ctx.Request.Scheme}://{ctx.Request.Host}";
            return Results.Json(new Dictionary<string, object>
            {
                ["issuer"] = runtime.Issuer,
                ["jwks_uri"] = origin + "/.well-known/jwks.json",
                ["token_endpoint"] = origin + "/auth/login",
                ["id_token_signing_alg_values_supported"] = new[] { runtime.Options.SigningAlgorithm.Name() },
                ["token_endpoint_auth_signing_alg_values_supported"] = new[] { runtime.Options.SigningAlgorithm.Name() },
                ["response_types_supported"] = new[] { "token" },
                ["subject_types_supported"] = new[] { "public" },
                ["revocation_feed_endpoint"] = origin + "/auth/revocations",
            });
        });

        app.MapGet("/api/me", (ClaimsPrincipal user) => Results.Json(new
        {
            sub = user.FindFirstValue(BouncerClaims.Subject),
            via = Via(user),
            roles = user.FindAll(BouncerClaims.Role).Select(c => c.Value),
        })).RequireAuthorization();

        app.MapGet("/healthz", () => Results.Json(new
        {
            status = runtime.IsStarted ? "ok" : "starting",
            mode = runtime.Options.Mode.ToString().ToLowerInvariant(),
            revocation = runtime.IsStarted && runtime.Revocations.IsStale() ? "stale" : "fresh",
        }, statusCode: runtime.IsStarted ? 200 : 503));
        return app;
    }

    /// <summary>Ends everything of a user at once: sessions, refresh families, and every access token by cut-off.</summary>
    public static async Task RevokeUserAsync(BouncerRuntime runtime, string username, string reason, CancellationToken ct)
    {
        await runtime.Sessions.DeleteUserAsync(username, ct);
        await runtime.Refresh.RevokeUserAsync(username, reason, ct);
        runtime.Metrics.Revocations.Add(1, new KeyValuePair<string, object?>("kind", reason));
    }

    private static IResult TokenPair(HttpContext ctx, BouncerRuntime runtime, RefreshResult result, string? transport)
    {
        var grant = result.Access!;
        var access = runtime.TokenIssuer.Issue(new TokenRequest
        {
            Subject = grant.Subject,
            SessionId = grant.Sid,
            JwtId = grant.Jti,
            IssuedAt = grant.IssuedAt,
            Lifetime = grant.ExpiresAt - grant.IssuedAt,
            Roles = grant.Scope?.Split(' ', StringSplitOptions.RemoveEmptyEntries),
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
            return Results.Json(new { access_token = access, token_type = "Bearer", expires_in = expiresIn });
        }
        return Results.Json(new { access_token = access, token_type = "Bearer", expires_in = expiresIn, refresh_token = result.RefreshToken });
    }

    internal static CookieOptions CookieOptions(BouncerRuntime runtime) => new()
    {
        HttpOnly = true,
        Secure = true,
        SameSite = runtime.Options.CookieSameSite,
        Path = "/",
        IsEssential = true,
    };

    internal static void SetSessionCookie(HttpContext ctx, BouncerRuntime runtime, string id)
    {
        // No Expires: a browser-session cookie; the server's idle and absolute timeouts decide validity.
        ctx.Response.Cookies.Append(BouncerDefaults.SessionCookieName, id, CookieOptions(runtime));
    }

    private static void ClearRefreshCookie(HttpContext ctx)
    {
        // Always: the cookie is scoped to /auth/refresh, so the logout requests that end it never carry it.
        ctx.Response.Cookies.Delete(BouncerDefaults.RefreshCookieName, new CookieOptions { Path = "/auth/refresh", Secure = true, HttpOnly = true, SameSite = SameSiteMode.Strict });
    }

    // Digests first: FixedTimeEquals returns at once on a length mismatch, which would tell a caller the key's length.
    private static bool SecretEquals(string sent, string expected) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(sent)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));

    private static string? Via(ClaimsPrincipal user) => user.FindFirstValue(BouncerClaims.Via);

    private static string ClientSummary(HttpContext ctx)
    {
        var agent = ctx.Request.Headers.UserAgent.ToString();
        if (agent.Length > 120) agent = agent[..120];
        return $"{(agent.Length == 0 ? "unknown client" : agent)} / {ctx.Connection.RemoteIpAddress}";
    }

    // Password checks from one client address that run at once; the overshoot of the failure limit is at most this.
    private const int LoginChecksPerAddress = 2;

    /// <summary>Response header of a revocation-feed answer that carries heartbeats (asked for with <c>heartbeat=1</c>).</summary>
    public const string FeedHeartbeatHeader = "Bouncer-Feed-Heartbeat";

    private static IResult BadBody() => BouncerProblems.Result(400, "invalid_request", "The body must be a JSON object of the documented shape.");

    private static IResult TooMany(BouncerRuntime runtime)
    {
        runtime.Metrics.Fail("rate_limited");
        return BouncerProblems.Result(429, "rate_limited", "Too many failed logins from this address; wait a minute.");
    }

    private static readonly JsonSerializerOptions BodyOptions = new(JsonSerializerDefaults.Web) { MaxDepth = 8 };

    /// <summary>Reads a small JSON body; null for anything malformed, oversized or of the wrong shape (never a 500).</summary>
    public static async Task<T?> ReadAsync<T>(HttpContext ctx, CancellationToken ct) where T : class
    {
        const int MaxBody = 16 * 1024;
        if (ctx.Request.ContentLength is > MaxBody) return null;
        // A chunked body announces no length: read at most one byte past the cap, never the whole stream.
        var buffer = ArrayPool<byte>.Shared.Rent(MaxBody + 1);
        try
        {
            int total = 0, read;
            while (total <= MaxBody && (read = await ctx.Request.Body.ReadAsync(buffer.AsMemory(total, MaxBody + 1 - total), ct)) > 0)
                total += read;
            if (total is 0 or > MaxBody) return null;
            return JsonSerializer.Deserialize<T>(buffer.AsSpan(0, total), BodyOptions);
        }
        catch (JsonException)
        {
            return null;
        }
        finally
        {
            // Login and register bodies hold passwords: wipe them before the buffer goes back to the pool.
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
        }
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Security audit: login of {Username} ({Mode}) from {Ip}.")]
    private static partial void LogLoginSucceeded(ILogger logger, string username, string mode, string ip);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "Security audit: login failed ({Reason}) from {Ip}.")]
    private static partial void LogLoginFailed(ILogger logger, string reason, string ip);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "Security audit: refresh token reuse detected from {Ip}; family revoked.")]
    private static partial void LogReuse(ILogger logger, string ip);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Information, Message = "Security audit: signing key {Kid} added by rotation.")]
    private static partial void LogKeyRotated(ILogger logger, string kid);
}
