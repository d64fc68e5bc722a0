using System.Security.Claims;
using Bouncer.Access;
using Bouncer.AspNetCore;
using Bouncer.Sessions;
using Bouncer.Tokens;
using Microsoft.Extensions.Options;

namespace Bouncer.Server;

/// <summary>
/// Simulator controls: mapped only in Development or with Bouncer:Demo=true, each acting on the caller's own
/// credential only, behind the same authentication and CSRF rules as every other state change.
/// </summary>
public static class DemoEndpoints
{
    /// <summary>The push toggle's body.</summary>
    public sealed record PushToggle(bool Enabled);

    /// <summary>The role switch's body: whether the caller's own account holds the harmless demo role.</summary>
    public sealed record DemoRole(bool Editor);

    /// <summary>The one role the simulator may give or take, on the caller's own account only.</summary>
    public const string EditorRole = "editor";

    /// <summary>Registers the demo's state and its decorator of the bearer pipeline; call only in a demo host.</summary>
    public static IServiceCollection AddBouncerDemo(this IServiceCollection services)
    {
        services.AddSingleton<DemoState>();
        services.AddSingleton<IAccessTokenValidator>(sp => new DemoAccessTokenValidator(
            new AccessTokenValidator(sp.GetRequiredService<BouncerTokens>(), sp.GetRequiredService<Bouncer.Revocation.RevocationListener>(), sp.GetRequiredService<Bouncer.Diagnostics.BouncerMetrics>()),
            sp.GetRequiredService<DemoState>()));
        return services;
    }

    /// <summary>Maps <c>/demo/state</c>, <c>/demo/push</c>, <c>/demo/expire</c>, <c>/demo/revoke</c>, <c>/demo/role</c> and
    /// <c>/demo/session</c>.</summary>
    public static IEndpointRouteBuilder MapDemoEndpoints(this IEndpointRouteBuilder app)
    {
        var demo = app.ServiceProvider.GetRequiredService<DemoState>();
        var options = app.ServiceProvider.GetRequiredService<IOptions<BouncerOptions>>().Value;
        var sessions = app.ServiceProvider.GetRequiredService<SessionManager>();
        var stores = app.ServiceProvider.GetRequiredService<BouncerStores>();
        var access = app.ServiceProvider.GetRequiredService<AccessManager>();
        var time = app.ServiceProvider.GetRequiredService<TimeProvider>();
        var directory = app.ServiceProvider.GetRequiredService<Bouncer.Users.UserDirectory>();
        var group = app.MapGroup("/demo");

        group.MapGet("/state", (ClaimsPrincipal user) => Results.Json(new
        {
            // The caller's own setting; anonymous callers see the default.
            push = demo.PushEnabledFor(user.FindFirstValue(BouncerClaims.SessionId)),
            mode = options.Mode.ToString().ToLowerInvariant(),
            access_token_lifetime = (int)options.Refresh.AccessTokenLifetime.TotalSeconds,
            // The simulator's hybrid column mints for this deployment's own audience, the only one /api/me accepts.
            audience = options.Audience,
            exchange_token_lifetime = (int)options.ExchangeTokenLifetime.TotalSeconds,
            near_cache = options.NearCache is not null,
        }));

        // Push on or off for the caller's own credential only (its sid: a session and the tokens minted from it, or
        // one refresh family): another visitor's requests, and the user's other credentials, are judged as before.
        group.MapPost("/push", async (HttpContext ctx, ClaimsPrincipal user) =>
        {
            var body = await BouncerHttp.ReadAsync<PushToggle>(ctx, ctx.RequestAborted);
            if (user.FindFirstValue(BouncerClaims.SessionId) is not { } sid) return Results.NotFound();
            demo.SetPush(sid, body?.Enabled ?? true);
            return Results.Json(new { push = demo.PushEnabledFor(sid) });
        }).RequireAuthorization();

        // Expires the caller's credential only: their session's idle deadline is moved to now; the token they
        // presented is judged expired (a refreshed token is not).
        group.MapPost("/expire", async (ClaimsPrincipal user, CancellationToken ct) =>
        {
            if (user.FindFirstValue(BouncerClaims.Via) == "session")
            {
                var handle = user.FindFirstValue(BouncerClaims.SessionId)!;
                if (!SessionKey.TryParseHandle(handle, out var key)) return Results.NotFound();
                var record = await stores.Sessions.GetAsync(key, ct);
                if (record is null) return Results.NotFound();
                var now = DateTimeOffset.FromUnixTimeMilliseconds(time.GetUtcNow().ToUnixTimeMilliseconds());
                await stores.Sessions.UpdateAsync(record with { ExpiresAt = now }, ct);
                demo.ExpireSession(handle, now);
                // An eviction, not a drop: a load already in flight must not cache the record from before.
                sessions.Cache?.Evict(key);
                return Results.Json(new { expired = "session" });
            }
            // Every token Bouncer signs carries a jti (JwsIssuer draws one when none is given).
            if (user.FindFirstValue(BouncerClaims.TokenId) is not { } jti) return Results.NotFound();
            demo.Expire(jti);
            return Results.Json(new { expired = "jwt" });
        }).RequireAuthorization();

        // What an admin's "revoke this user" does, aimed at the caller's own user: the server ends everything, and the
        // client keeps presenting its credential, to show who still accepts it.
        group.MapPost("/revoke", async (ClaimsPrincipal user, CancellationToken ct) =>
        {
            await access.RevokeUserAsync(user.FindFirstValue(BouncerClaims.Subject)!, "demo_revoke", ct);
            return Results.NoContent();
        }).RequireAuthorization();

        // The stale-role scenario: gives or takes the demo role on the caller's own account, through the same engine call
        // as the admin API (stored, announced, tokens minted before refused where the push is on). Never any other role:
        // an account holding one (an admin) is left alone, so the demo cannot grant or strip real rights.
        group.MapPost("/role", async Task<IResult> (HttpContext ctx, ClaimsPrincipal user, CancellationToken ct) =>
        {
            var body = await BouncerHttp.ReadAsync<DemoRole>(ctx, ct);
            if (body is null) return BouncerProblems.Result(400, FailureCodes.InvalidRequest, "Send {\"editor\": true|false}.");
            var subject = user.FindFirstValue(BouncerClaims.Subject)!;
            var account = await directory.GetAsync(subject, ct);
            if (account is null) return BouncerProblems.Result(404, FailureCodes.InvalidRequest, "No such account.");
            if (account.Roles.Length > 0 && account.Roles != EditorRole)
                return BouncerProblems.Result(403, FailureCodes.Forbidden, "The demo changes only the editor role of an account without other roles.");
            var roles = body.Editor ? EditorRole : "";
            await access.SetRolesAsync(subject, roles, ct);
            return Results.Json(new { roles = body.Editor ? new[] { EditorRole } : Array.Empty<string>() });
        }).RequireAuthorization();

        // Why the caller's own session cookie is refused (the article's "gone from the store vs expired"): the engine says
        // only session_invalid, as it should to anyone; the demo reads the store for the cookie's own record. Nothing else:
        // no data of the record, only whether it is absent, expired (and since when) or live.
        group.MapGet("/session", async (HttpContext ctx, CancellationToken ct) =>
        {
            var id = BouncerHttp.SessionCookie(ctx.Request, out _);
            if (id is null || !SessionId.TryGetKey(id, out var key)) return Results.Json(new { session = "none" });
            var record = await stores.Sessions.GetAsync(key, ct);
            var now = time.GetUtcNow();
            // The engine deletes an expired record when it finds it: the demo clock's note keeps "expired" apart from
            // "revoked" (which deletes the record at once, as every end of a session does).
            if (record is null)
                return demo.SessionExpiredAt(key.ToString()) is { } at
                    ? Results.Json(new { session = "expired", expired_at = at.ToUnixTimeMilliseconds(), deleted = true })
                    : Results.Json(new { session = "absent" });
            if (record.ExpiresAt <= now || record.AbsoluteExpiresAt <= now)
                return Results.Json(new { session = "expired", expired_at = Min(record.ExpiresAt, record.AbsoluteExpiresAt).ToUnixTimeMilliseconds() });
            return Results.Json(new { session = "live" });
        });

        return app;
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;
}
