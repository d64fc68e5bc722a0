using System.Security.Claims;
using Bouncer.AspNetCore;
using Bouncer.Sessions;

namespace Bouncer.Server;

/// <summary>
/// Simulator controls that change server behaviour: mapped only in Development or with Bouncer:Demo=true,
/// and each acts on the caller's own credential only.
/// </summary>
public static class DemoEndpoints
{
    public sealed record PushToggle(bool Enabled);

    public static IEndpointRouteBuilder MapDemoEndpoints(this IEndpointRouteBuilder app)
    {
        var runtime = app.ServiceProvider.GetRequiredService<BouncerRuntime>();
        if (!runtime.Options.Demo) return app;
        var demo = app.MapGroup("/demo");

        demo.MapGet("/state", () => Results.Json(new
        {
            push = runtime.PushEnabled,
            mode = runtime.Options.Mode.ToString().ToLowerInvariant(),
            access_token_lifetime = (int)runtime.Options.Refresh.AccessTokenLifetime.TotalSeconds,
            // The simulator's hybrid column mints for this deployment's own audience, the only one /api/me accepts.
            audience = runtime.Options.Audience,
            exchange_token_lifetime = (int)runtime.Options.ExchangeTokenLifetime.TotalSeconds,
            near_cache = runtime.Options.NearCache is not null,
        }));

        demo.MapPost("/push", async (HttpContext ctx) =>
        {
            var body = await BouncerEndpoints.ReadAsync<PushToggle>(ctx, ctx.RequestAborted);
            runtime.PushEnabled = body?.Enabled ?? true;
            return Results.Json(new { push = runtime.PushEnabled });
        });

        // Fast-forwards the clock of the caller's credential only: their session's idle deadline is
        // moved to now; their tokens are judged by a clock one access-token lifetime (plus skew) ahead.
        demo.MapPost("/expire", async (ClaimsPrincipal user, CancellationToken ct) =>
        {
            var sub = user.FindFirstValue(BouncerClaims.Subject)!;
            if (user.FindFirstValue(BouncerClaims.Via) == "session")
            {
                var handle = user.FindFirstValue(BouncerClaims.SessionId)!;
                if (!SessionKey.TryParseHandle(handle, out var key)) return Results.NotFound();
                var record = await runtime.Sessions.Store.GetAsync(key, ct);
                if (record is null) return Results.NotFound();
                var now = DateTimeOffset.FromUnixTimeMilliseconds(runtime.Time.GetUtcNow().ToUnixTimeMilliseconds());
                await runtime.Sessions.Store.UpdateAsync(record with { ExpiresAt = now }, ct);
                return Results.Json(new { expired = "session" });
            }
            runtime.DemoClockOffsets[sub] = runtime.Options.Refresh.AccessTokenLifetime + TimeSpan.FromSeconds(31);
            return Results.Json(new { expired = "jwt" });
        }).RequireAuthorization();

        // What an admin's "revoke this user" does, aimed at the caller's own user: the server ends
        // everything, and the client keeps presenting its credential, to show who still accepts it.
        demo.MapPost("/revoke", async (ClaimsPrincipal user, CancellationToken ct) =>
        {
            await BouncerEndpoints.RevokeUserAsync(runtime, user.FindFirstValue(BouncerClaims.Subject)!, "demo_revoke", ct);
            return Results.NoContent();
        }).RequireAuthorization();

        return app;
    }
}
