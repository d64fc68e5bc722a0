using System.Text.Json.Serialization;
using Bouncer.Access;
using Bouncer.Diagnostics;
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
/// Admin-only endpoints (policy <see cref="BouncerDefaults.AdminPolicy"/>): accounts and their access, the audit
/// trail, revoke-all, and the signing keys (list, rotate, revoke). Each handler translates one request to one engine call.
/// </summary>
public static class BouncerAdminEndpoints
{
    /// <summary>The body of <c>POST /admin/users</c>.</summary>
    public sealed record CreateUserRequest(string? Username, string? Password, List<string?>? Roles);

    /// <summary>The body of <c>PUT /admin/users/{name}/roles</c>.</summary>
    public sealed record RolesRequest(List<string?>? Roles);

    /// <summary>An account as the admin API shows it: never the password hash.</summary>
    public sealed record UserView(
        string Username,
        string[] Roles,
        bool Suspended,
        [property: JsonPropertyName("locked_until")] DateTimeOffset? LockedUntil,
        [property: JsonPropertyName("failed_logins")] int FailedLogins,
        [property: JsonPropertyName("created_at")] DateTimeOffset CreatedAt)
    {
        internal static UserView Of(UserRecord u) =>
            new(u.Username, u.Roles.Split(' ', StringSplitOptions.RemoveEmptyEntries), u.Suspended, u.LockedUntil, u.FailedLogins, u.CreatedAt);
    }

    /// <summary>Maps the admin API.</summary>
    public static IEndpointRouteBuilder MapBouncerAdmin(this IEndpointRouteBuilder app)
    {
        if (!BouncerEndpointServices.Ready(app)) return app;
        var sp = app.ServiceProvider;
        var options = sp.GetRequiredService<IOptions<BouncerOptions>>().Value;
        var access = sp.GetRequiredService<AccessManager>();
        var sessions = sp.GetRequiredService<SessionManager>();
        var audit = sp.GetRequiredService<BouncerAudit>();
        var stores = sp.GetRequiredService<BouncerStores>();
        var keys = new Lazy<KeyManager>(sp.GetRequiredService<KeyManager>);
        var admin = app.MapGroup("/admin").RequireAuthorization(BouncerDefaults.AdminPolicy);

        admin.MapGet("/users", async (string? name, string? after, int? limit, CancellationToken ct) =>
        {
            var page = await stores.Users.ListAsync(string.IsNullOrEmpty(name) ? null : name.Trim().ToLowerInvariant(), after, Math.Clamp(limit ?? 50, 1, 500), ct);
            return Results.Json(new { users = page.Select(UserView.Of), next = page.Count == 0 ? null : page[^1].Username });
        });

        admin.MapPost("/users", async (HttpContext ctx, CancellationToken ct) =>
        {
            var body = await BouncerHttp.ReadAsync<CreateUserRequest>(ctx, ct);
            if (body is null) return BouncerHttp.BadBody();
            if (AccessManager.NormalizeRoles(body.Roles ?? []) is not { } roles) return BadRoles();
            var (outcome, username) = await access.CreateUserAsync(body.Username, body.Password, roles, "admin", ct);
            return outcome switch
            {
                UserOutcome.Ok => Results.Json(new { username }, statusCode: 201),
                UserOutcome.Taken => BouncerProblems.Result(409, FailureCodes.UsernameTaken, "That username is taken."),
                _ => BouncerProblems.Result(400, FailureCodes.InvalidRequest, $"Username: 1-64 characters without spaces; password: at least {options.Users.MinPasswordLength} characters."),
            };
        });

        admin.MapGet("/users/{username}", async (string username, CancellationToken ct) =>
            UserService.Normalize(username) is not { } name ? BadName()
            : await stores.Users.GetAsync(name, ct) is { } user ? Results.Json(UserView.Of(user)) : NotFound());

        admin.MapPut("/users/{username}/roles", async (string username, HttpContext ctx, CancellationToken ct) =>
        {
            if (UserService.Normalize(username) is not { } name) return BadName();
            var body = await BouncerHttp.ReadAsync<RolesRequest>(ctx, ct);
            if (body?.Roles is null) return BouncerHttp.BadBody();
            if (AccessManager.NormalizeRoles(body.Roles) is not { } roles) return BadRoles();
            return Answer(await access.SetRolesAsync(name, roles, ct));
        });

        admin.MapPost("/users/{username}/suspend", async (string username, CancellationToken ct) =>
            UserService.Normalize(username) is { } name ? Answer(await access.SuspendAsync(name, ct)) : BadName());
        admin.MapPost("/users/{username}/unsuspend", async (string username, CancellationToken ct) =>
            UserService.Normalize(username) is { } name ? Answer(await access.UnsuspendAsync(name, ct)) : BadName());
        admin.MapPost("/users/{username}/unlock", async (string username, CancellationToken ct) =>
            UserService.Normalize(username) is { } name ? Answer(await access.UnlockAsync(name, ct)) : BadName());
        admin.MapDelete("/users/{username}", async (string username, CancellationToken ct) =>
            UserService.Normalize(username) is { } name ? Answer(await access.DeleteUserAsync(name, ct)) : BadName());

        admin.MapPost("/users/{username}/revoke", async (string username, CancellationToken ct) =>
        {
            if (UserService.Normalize(username) is not { } name) return BadName();
            await access.RevokeUserAsync(name, "admin_revoke", ct);
            return Results.NoContent();
        });

        admin.MapGet("/users/{username}/sessions", async (string username, CancellationToken ct) =>
        {
            if (UserService.Normalize(username) is not { } name) return BadName();
            var list = await sessions.ListUserAsync(name, ct);
            return Results.Json(list.Select(s => new { id = s.Handle, device = s.Client, created = s.CreatedAt, last_seen = s.LastSeenAt, expires = s.ExpiresAt }));
        });

        admin.MapDelete("/users/{username}/sessions/{handle}", async (string username, string handle, CancellationToken ct) =>
        {
            if (UserService.Normalize(username) is not { } name) return BadName();
            return await sessions.EndSessionAsync(name, handle, "admin_revoke", ct)
                ? Results.NoContent()
                : BouncerProblems.Result(404, FailureCodes.SessionNotFound, "No such session of that user.");
        });

        admin.MapPost("/revoke-all", async (CancellationToken ct) =>
        {
            await access.RevokeEveryoneAsync("admin_revoke_all", ct);
            return Results.NoContent();
        });

        admin.MapGet("/audit", async (string? user, int? limit, CancellationToken ct) =>
        {
            if (audit.Store is null) return Results.Json(Array.Empty<object>());
            var subject = user is null ? null : UserService.Normalize(user);
            if (user is not null && subject is null) return BadName();
            var events = await audit.Store.ListAsync(subject, Math.Clamp(limit ?? 100, 1, 1000), ct);
            return Results.Json(events.Select(e => new
            {
                @event = e.Kind.Name(),
                id = (int)e.Kind,
                at = e.At,
                actor = e.Actor,
                subject = e.Subject,
                target = e.Target,
                reason = e.Reason,
                client_address = e.ClientAddress,
                user_agent = e.UserAgent,
            }));
        });

        admin.MapGet("/keys", async (CancellationToken ct) =>
            Results.Json((await keys.Value.ListAsync(ct)).Select(KeyView)));

        // Adds a key that is published now and signs after KeyPrePublicationDelay; older keys keep verifying until
        // every token they signed has expired (KeyRing). HS256 keys rotate the same way (they are never published).
        admin.MapPost("/keys/rotate", async (CancellationToken ct) =>
        {
            KeyInfo key;
            try
            {
                key = await keys.Value.RotateAsync("admin", null, ct);
            }
            catch (Exception e) when (e is KeyLoadException or InvalidOperationException)
            {
                // The stored set is refused, or kept changing under the compare-and-set: nothing was saved.
                return BouncerProblems.Result(409, FailureCodes.KeyRotationFailed, "The stored key set could not be updated; nothing changed. Try again.");
            }
            return Results.Json(new { kid = key.KeyId, signs_from = key.SignsFrom });
        });

        // Key compromise: the key leaves the ring at once, a fresh key signs at once when it was the signer, and its kid is
        // announced so every instance and downstream verifier refuses its tokens (KeyManager.RevokeAsync).
        admin.MapPost("/keys/{kid}/revoke", async (string kid, CancellationToken ct) =>
        {
            if (!KeyManager.IsWellFormedKid(kid)) return BouncerProblems.Result(400, FailureCodes.InvalidRequest, "Bad kid.");
            (KeyOutcome Outcome, string? NewKeyId) result;
            try
            {
                result = await keys.Value.RevokeAsync(kid, "admin_revoke", ct);
            }
            catch (Exception e) when (e is KeyLoadException or InvalidOperationException)
            {
                return BouncerProblems.Result(409, FailureCodes.KeyRotationFailed, "The stored key set could not be updated; nothing changed. Try again.");
            }
            return result.Outcome == KeyOutcome.Done
                ? Results.Json(new { kid, revoked = true, signing_kid = keys.Value.Keys.CurrentSigningKey.KeyId })
                : BouncerProblems.Result(404, FailureCodes.KeyNotFound, "No key with that kid in the ring; the kid was announced as revoked anyway.");
        });
        return app;
    }

    private static object KeyView(KeyInfo k) => new
    {
        kid = k.KeyId,
        alg = k.Algorithm,
        state = k.State.ToString().ToLowerInvariant(),
        signs_from = k.SignsFrom,
        signs_until = k.SignsUntil,
        retires_at = k.RetiresAt,
    };

    private static IResult Answer(UserOutcome outcome) => outcome == UserOutcome.Ok ? Results.NoContent() : NotFound();

    private static IResult NotFound() => BouncerProblems.Result(404, FailureCodes.UserNotFound, "No such user.");

    private static IResult BadName() => BouncerProblems.Result(400, FailureCodes.InvalidRequest, "Bad username.");

    private static IResult BadRoles() =>
        BouncerProblems.Result(400, FailureCodes.InvalidRoles, "roles: at most 32 names of 1-64 characters a-z 0-9 _ . : -.");
}
