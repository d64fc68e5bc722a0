using Bouncer.Access;
using Bouncer.Diagnostics;
using Bouncer.Tokens;
using Bouncer.Users;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Bouncer.AspNetCore;

/// <summary>Admin-only endpoints (policy <see cref="BouncerDefaults.AdminPolicy"/>): revoke a user, rotate keys.</summary>
public static class BouncerAdminEndpoints
{
    /// <summary>Maps <c>POST /admin/users/{username}/revoke</c> and <c>POST /admin/keys/rotate</c>.</summary>
    public static IEndpointRouteBuilder MapBouncerAdmin(this IEndpointRouteBuilder app)
    {
        var sp = app.ServiceProvider;
        var options = sp.GetRequiredService<IOptions<BouncerOptions>>().Value;
        var access = sp.GetRequiredService<AccessManager>();
        var audit = sp.GetRequiredService<BouncerAudit>();
        var time = sp.GetRequiredService<TimeProvider>();
        var tokens = new Lazy<BouncerTokens>(sp.GetRequiredService<BouncerTokens>);

        app.MapPost("/admin/users/{username}/revoke", async (string username, CancellationToken ct) =>
        {
            var name = UserService.Normalize(username);
            if (name is null) return BouncerProblems.Result(400, FailureCodes.InvalidRequest, "Bad username.");
            await access.RevokeUserAsync(name, "admin_revoke", ct);
            return Results.NoContent();
        }).RequireAuthorization(BouncerDefaults.AdminPolicy);

        // Adds a key that is published now and signs after KeyPrePublicationDelay; older keys keep verifying until
        // every token they signed has expired (KeyRing). HS256 deployments have no public keys to rotate here.
        app.MapPost("/admin/keys/rotate", async (CancellationToken ct) =>
        {
            if (options.SigningAlgorithm == JwsAlgorithm.HS256)
                return BouncerProblems.Result(400, FailureCodes.SymmetricKeys, "HS256 keys are not rotated through this endpoint.");
            SigningKey key;
            try
            {
                key = await tokens.Value.Keys.RotateAsync(ct);
            }
            catch (Exception e) when (e is KeyLoadException or InvalidOperationException)
            {
                // The stored set is refused, or kept changing under the compare-and-set: nothing was saved.
                return BouncerProblems.Result(409, FailureCodes.KeyRotationFailed, "The stored key set could not be updated; nothing changed. Try again.");
            }
            audit.Record(AuditEventKind.KeyRotated, null, key.KeyId, "rotated");
            return Results.Json(new { kid = key.KeyId, signs_from = time.GetUtcNow() + options.KeyPrePublicationDelay });
        }).RequireAuthorization(BouncerDefaults.AdminPolicy);
        return app;
    }
}
