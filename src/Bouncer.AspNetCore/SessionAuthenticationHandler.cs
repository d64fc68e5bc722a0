using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Bouncer.AspNetCore;

/// <summary>
/// Authenticates requests by the session cookie: one lookup (near cache, then store). A malformed id is
/// refused without a store round trip. Challenges answer 401 problem+json, never a redirect.
/// </summary>
public sealed class SessionAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, BouncerRuntime runtime)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (runtime.Options.Mode == BouncerMode.Jwt) return AuthenticateResult.NoResult();
        if (!Request.Cookies.TryGetValue(BouncerDefaults.SessionCookieName, out var id) || string.IsNullOrEmpty(id))
            return AuthenticateResult.NoResult();

        var trace = BouncerTrace.Current;
        trace?.Strategy = "session";
        trace?.CredentialBytes = id.Length;
        if (trace is not null) trace.SessionLookups++;
        runtime.Metrics.Verifications.Add(1, new KeyValuePair<string, object?>("strategy", "session"));
        var session = await runtime.Sessions.GetAsync(id, Context.RequestAborted).ConfigureAwait(false);
        if (session is null) return Refuse("session_invalid");

        var identity = new ClaimsIdentity(BouncerDefaults.SessionScheme, BouncerClaims.Subject, BouncerClaims.Role);
        identity.AddClaim(new Claim(BouncerClaims.Subject, session.UserId));
        identity.AddClaim(new Claim(BouncerClaims.SessionId, session.Handle));
        identity.AddClaim(new Claim(BouncerClaims.Via, "session"));
        foreach (var role in RolesOf(session)) identity.AddClaim(new Claim(BouncerClaims.Role, role));
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), BouncerDefaults.SessionScheme));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        BouncerProblems.WriteUnauthorizedAsync(Context, bearer: false);

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        BouncerProblems.WriteAsync(Context, 403, "forbidden", "The credential is valid but lacks the required role.");

    private AuthenticateResult Refuse(string reason)
    {
        Context.Items[BouncerClaims.FailureReasonItem] = reason;
        BouncerTrace.Current?.Reason = reason;
        runtime.Metrics.Fail(reason);
        return AuthenticateResult.Fail(reason);
    }

    // Parsed once per stored record: a near-cache hit returns the same Session view every time.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Bouncer.Sessions.Session, string[]> Roles = new();

    private static string[] RolesOf(Bouncer.Sessions.Session session) =>
        Roles.GetValue(session, static s => RolesOf(s.Data));

    /// <summary>Roles live in the session data as <c>{"roles":"admin ..."}</c>, written at login.</summary>
    internal static string[] RolesOf(string? data)
    {
        if (data is null) return [];
        using var doc = JsonDocument.Parse(data);
        return doc.RootElement.TryGetProperty("roles", out var roles) && roles.ValueKind == JsonValueKind.String
            ? roles.GetString()!.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            : [];
    }
}
