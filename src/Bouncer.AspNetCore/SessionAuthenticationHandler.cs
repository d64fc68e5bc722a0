using System.Security.Claims;
using System.Text.Encodings.Web;
using Bouncer.Diagnostics;
using Bouncer.Sessions;
using Bouncer.Users;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Bouncer.AspNetCore;

/// <summary>
/// Authenticates requests by the session cookie: one lookup (near cache, then store). A malformed id is
/// refused without a store round trip. Challenges answer 401 problem+json, never a redirect.
/// </summary>
public sealed class SessionAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    SessionManager sessions, UserDirectory users, IOptions<BouncerOptions> bouncer, BouncerMetrics metrics)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    /// <inheritdoc/>
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (bouncer.Value.Mode == BouncerMode.Jwt) return AuthenticateResult.NoResult();
        // Register, login and refresh (and the refresh-token logout) authenticate by their own credential (a password, a
        // refresh token) and never read the caller's session: a session cookie the browser attaches anyway (one jar per
        // site) costs no lookup there, and a token client's logout cannot end the browser's session by accident.
        if (AuthenticatesByItsOwnCredential(Request.Path)) return AuthenticateResult.NoResult();
        var id = BouncerHttp.SessionCookie(Request, out var duplicated);
        if (duplicated) return Refuse(FailureCodes.DuplicateSessionCookie);
        if (id is null) return AuthenticateResult.NoResult();

        var trace = BouncerTrace.Current;
        trace?.Strategy = "session";
        trace?.CredentialBytes = id.Length;
        if (trace is not null) trace.SessionLookups++;
        metrics.Verifications.Add(1, new KeyValuePair<string, object?>("strategy", "session"));
        var session = await sessions.GetAsync(id, Context.RequestAborted).ConfigureAwait(false);
        if (session is null) return Refuse(FailureCodes.SessionInvalid);
        // Roles come from the account, never from a copy taken at login: a change reaches every session at once.
        var user = await users.GetAsync(session.UserId, Context.RequestAborted).ConfigureAwait(false);
        if (user is null) return Refuse(FailureCodes.SessionInvalid);
        if (user.Suspended) return Refuse(FailureCodes.UserSuspended);

        var identity = new ClaimsIdentity(BouncerDefaults.SessionScheme, BouncerClaims.Subject, BouncerClaims.Role);
        identity.AddClaim(new Claim(BouncerClaims.Subject, session.UserId));
        identity.AddClaim(new Claim(BouncerClaims.SessionId, session.Handle));
        identity.AddClaim(new Claim(BouncerClaims.Via, "session"));
        foreach (var role in RolesOf(user.Roles)) identity.AddClaim(new Claim(BouncerClaims.Role, role));
        var principal = new ClaimsPrincipal(identity);
        // Kept for endpoints that need more of the session than the principal says (the exchange reads its auth_time).
        Context.Items[SessionItem] = session;
        var validated = new BouncerValidatedContext(Context, principal);
        await bouncer.Value.Events.SessionValidated(validated).ConfigureAwait(false);
        if (validated.Failure is { } refused) return Refuse(refused);
        return AuthenticateResult.Success(new AuthenticationTicket(principal, BouncerDefaults.SessionScheme));
    }

    private static bool AuthenticatesByItsOwnCredential(Microsoft.AspNetCore.Http.PathString path) =>
        path.Equals("/auth/login", StringComparison.OrdinalIgnoreCase) || path.Equals("/auth/register", StringComparison.OrdinalIgnoreCase)
        || path.Equals("/auth/refresh", StringComparison.OrdinalIgnoreCase) || path.Equals("/auth/refresh/logout", StringComparison.OrdinalIgnoreCase);

    // HttpContext.Items key of the Session that authenticated the request.
    internal const string SessionItem = "bouncer.session";

    /// <inheritdoc/>
    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var challenge = new BouncerChallengeContext(Context, Context.Items[BouncerClaims.FailureReasonItem] as string);
        await bouncer.Value.Events.Challenge(challenge).ConfigureAwait(false);
        if (!challenge.Handled) await BouncerProblems.WriteUnauthorizedAsync(Context, bearer: false).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var forbidden = new BouncerChallengeContext(Context, FailureCodes.Forbidden);
        await bouncer.Value.Events.Forbidden(forbidden).ConfigureAwait(false);
        if (!forbidden.Handled) await BouncerProblems.WriteAsync(Context, 403, FailureCodes.Forbidden, "The credential is valid but lacks the required role.").ConfigureAwait(false);
    }

    private AuthenticateResult Refuse(string reason)
    {
        Context.Items[BouncerClaims.FailureReasonItem] = reason;
        BouncerTrace.Current?.Reason = reason;
        metrics.Fail(reason);
        return AuthenticateResult.Fail(reason);
    }

    // Split once per account record: a directory hit returns the same record until the account changes.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<string, string[]> Roles = new();

    private static string[] RolesOf(string roles) =>
        roles.Length == 0 ? [] : Roles.GetValue(roles, static r => r.Split(' ', StringSplitOptions.RemoveEmptyEntries));
}
