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

    /// <summary>Registers the demo's state and its decorator of the bearer pipeline; call only in a demo host.</summary>
    public static IServiceCollection AddBouncerDemo(this IServiceCollection services)
    {
        services.AddSingleton<DemoState>();
        services.AddSingleton<IAccessTokenValidator>(sp => new DemoAccessTokenValidator(
            new AccessTokenValidator(sp.GetRequiredService<BouncerTokens>(), sp.GetRequiredService<Bouncer.Revocation.RevocationListener>(), sp.GetRequiredService<Bouncer.Diagnostics.BouncerMetrics>()),
            sp.GetRequiredService<DemoState>()));
        return services;
    }

    /// <summary>Maps <c>/demo/state</c>, <c>/demo/push</c>, <c>/demo/expire</c> and <c>/demo/revoke</c>.</summary>
    public static IEndpointRouteBuilder MapDemoEndpoints(this IEndpointRouteBuilder app)
    {
        var demo = app.ServiceProvider.GetRequiredService<DemoState>();
        var options = app.ServiceProvider.GetRequiredService<IOptions<BouncerOptions>>().Value;
        var sessions = app.ServiceProvider.GetRequiredService<SessionManager>();
        var stores = app.ServiceProvider.GetRequiredService<BouncerStores>();
        var access = app.ServiceProvider.GetRequiredService<AccessManager>();
        var time = app.ServiceProvider.GetRequiredService<TimeProvider>();
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

        return app;
    }
}
