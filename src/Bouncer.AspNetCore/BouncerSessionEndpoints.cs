using System.Security.Claims;
using Bouncer.Sessions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Bouncer.AspNetCore;

/// <summary><c>GET /auth/sessions</c> and <c>DELETE /auth/sessions/{id}</c>: a user's own devices.</summary>
public static class BouncerSessionEndpoints
{
    /// <summary>Maps the caller's session list and per-device logout.</summary>
    public static IEndpointRouteBuilder MapBouncerSessions(this IEndpointRouteBuilder app)
    {
        if (!BouncerEndpointServices.Ready(app)) return app;
        var sessionManager = new Lazy<SessionManager>(app.ServiceProvider.GetRequiredService<SessionManager>);
        app.MapGet("/auth/sessions", async (ClaimsPrincipal user, CancellationToken ct) =>
        {
            var current = user.FindFirstValue(BouncerClaims.SessionId);
            var list = await sessionManager.Value.ListUserAsync(user.FindFirstValue(BouncerClaims.Subject)!, ct);
            return Results.Json(list.Select(s => new
            {
                id = s.Handle,
                device = s.Client,
                created = s.CreatedAt,
                last_seen = s.LastSeenAt,
                expires = s.ExpiresAt,
                current = s.Handle == current,
            }));
        }).RequireAuthorization();

        app.MapDelete("/auth/sessions/{id}", async (string id, ClaimsPrincipal user, CancellationToken ct) =>
        {
            var deleted = await sessionManager.Value.EndSessionAsync(user.FindFirstValue(BouncerClaims.Subject)!, id, "logout", ct);
            if (!deleted) return BouncerProblems.Result(404, FailureCodes.SessionNotFound, "No such session of yours.");
            return Results.NoContent();
        }).RequireAuthorization();
        return app;
    }
}
