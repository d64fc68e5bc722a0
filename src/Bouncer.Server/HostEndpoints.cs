using System.Security.Claims;
using Bouncer.AspNetCore;

namespace Bouncer.Server;

/// <summary>The server host's own routes: the sample resource <c>/api/me</c> and <c>/healthz</c>.</summary>
public static class HostEndpoints
{
    /// <summary>Maps <c>GET /api/me</c> (who the credential says you are) and <c>GET /healthz</c>.</summary>
    public static IEndpointRouteBuilder MapHostEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/me", (ClaimsPrincipal user) => Results.Json(new
        {
            sub = user.FindFirstValue(BouncerClaims.Subject),
            via = BouncerHttp.Via(user),
            roles = user.FindAll(BouncerClaims.Role).Select(c => c.Value),
        })).RequireAuthorization();

        // ASP.NET Core health checks, one per dependency (registered by AddBouncer): 503 when a required one is down
        // (the store, or the revocation state when the policy refuses while stale), so a load balancer stops sending
        // traffic here.
        app.MapBouncerHealthChecks("/healthz");
        return app;
    }
}
