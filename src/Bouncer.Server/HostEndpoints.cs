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

        var stores = app.ServiceProvider.GetRequiredService<BouncerStores>();
        // Each dependency, and 503 when a required one is down: the store (one cheap read, bounded), or the revocation
        // state when the policy refuses while stale. A load balancer then stops sending traffic here.
        app.MapGet("/healthz", async (CancellationToken ct) =>
        {
            var store = "up";
            try
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
                deadline.CancelAfter(TimeSpan.FromSeconds(2));
                await stores.Secrets.GetAsync("issuer", deadline.Token);
            }
            catch (Exception ex) when (StoreFaults.IsUnavailable(ex) || ex is OperationCanceledException && !ct.IsCancellationRequested)
            {
                store = "down";
            }
            var stale = listener.IsStale();
            var healthy = store == "up" && !(stale && options.Revocation.Policy == StalenessPolicy.Refuse);
            return Results.Json(new
            {
                status = healthy ? "ok" : "unavailable",
                mode = options.Mode.ToString().ToLowerInvariant(),
                store,
                revocation = stale ? "stale" : "fresh",
            }, statusCode: healthy ? 200 : 503);
        });
        return app;
    }
}
