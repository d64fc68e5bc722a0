using System.Security.Claims;
using Bouncer.AspNetCore;
using Bouncer.Revocation;
using Microsoft.Extensions.Options;

namespace Bouncer.Server;

/// <summary>The server host's own routes: the sample resource <c>/api/me</c> and <c>/healthz</c>.</summary>
public static class HostEndpoints
{
    /// <summary>Maps <c>GET /api/me</c> (who the credential says you are) and <c>GET /healthz</c>.</summary>
    public static IEndpointRouteBuilder MapHostEndpoints(this IEndpointRouteBuilder app)
    {
        var options = app.ServiceProvider.GetRequiredService<IOptions<BouncerOptions>>().Value;
        var listener = app.ServiceProvider.GetRequiredService<RevocationListener>();
        app.MapGet("/api/me", (ClaimsPrincipal user) => Results.Json(new
        {
            sub = user.FindFirstValue(BouncerClaims.Subject),
            via = BouncerHttp.Via(user),
            roles = user.FindAll(BouncerClaims.Role).Select(c => c.Value),
        })).RequireAuthorization();

        // Requests are served only after the engine started (hosted services start first).
        app.MapGet("/healthz", () => Results.Json(new
        {
            status = "ok",
            mode = options.Mode.ToString().ToLowerInvariant(),
            revocation = listener.IsStale() ? "stale" : "fresh",
        }));
        return app;
    }
}
