using System.Text.RegularExpressions;
using Bouncer.Diagnostics;
using Bouncer.Refresh;
using Bouncer.Revocation;
using Bouncer.Sessions;
using Bouncer.Users;

namespace Bouncer.Access;

/// <summary>
/// Every change to a user's access, each one engine call: stored, announced to every instance and downstream
/// verifier (which evict their near caches on it), and audited. Endpoints and CLI commands translate to these calls
/// and do nothing else. Thread-safe.
/// </summary>
/// <remarks>
/// How each change reaches live credentials: ending sessions and families is announced by handle and family id;
/// anything that changes what a user may do (roles, suspension, deletion, password) also announces a user cut-off,
/// which refuses every access token issued before it (the client refreshes, and the refresh reads the account) and
/// evicts the account and its sessions from every near cache (the next session check reads the new roles).
/// </remarks>
public sealed partial class AccessManager
{
    private const int MaxRoles = 32;

    private readonly SessionManager _sessions;
    private readonly RefreshTokenService _refresh;
    private readonly UserService _users;
    private readonly IUserStore _store;
    private readonly IRevocationChannel _channel;
    private readonly UserDirectory? _directory;
    private readonly BouncerAudit? _audit;
    private readonly TimeProvider _time;
    private readonly BouncerEngineOptions _options;

    /// <summary>Builds the access changes on the engine's services.</summary>
    public AccessManager(SessionManager sessions, RefreshTokenService refresh, UserService users, IUserStore store, IRevocationChannel channel,
        BouncerEngineOptions options, TimeProvider? time = null, UserDirectory? directory = null, BouncerAudit? audit = null)
    {
        _sessions = sessions ?? throw new ArgumentNullException(nameof(sessions));
        _refresh = refresh ?? throw new ArgumentNullException(nameof(refresh));
        _users = users ?? throw new ArgumentNullException(nameof(users));
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _channel = channel ?? throw new ArgumentNullException(nameof(channel));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _time = time ?? TimeProvider.System;
        _directory = directory;
        _audit = audit;
    }

    /// <summary>
    /// Roles as stored: each 1 to 64 of <c>a-z 0-9 _ . : -</c>, at most 32, deduplicated and sorted. Null when one is
    /// malformed.
    /// </summary>
    public static string? NormalizeRoles(IEnumerable<string?>? roles)
    {
        if (roles is null) return null;
        var set = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var role in roles)
        {
            if (role is null || !RoleName().IsMatch(role)) return null;
            set.Add(role);
        }
        return set.Count > MaxRoles ? null : string.Join(' ', set);
    }

    [GeneratedRegex("^[a-z0-9_.:-]{1,64}$")]
    private static partial Regex RoleName();

    /// <summary>Creates an account (self-service registration or an admin) and audits it.</summary>
    public async ValueTask<(UserOutcome Outcome, string? Username)> CreateUserAsync(string? username, string? password, string roles, string reason, CancellationToken ct)
    {
        var (outcome, name) = await _users.RegisterAsync(username, password, roles, ct).ConfigureAwait(false);
        if (outcome == UserOutcome.Ok) await AuditAsync(AuditEventKind.UserCreated, name!, roles.Length == 0 ? null : roles, reason, ct).ConfigureAwait(false);
        return (outcome, name);
    }

    /// <summary>
    /// Replaces the user's roles. Every instance's next check of any of the user's sessions sees the new roles;
    /// access tokens minted before are refused (the client refreshes and gets the new roles from the account).
    /// </summary>
    public ValueTask<UserOutcome> SetRolesAsync(string username, string roles, CancellationToken ct) =>
        ChangeAsync(username, u => u with { Roles = roles }, AuditEventKind.RolesChanged, roles.Length == 0 ? "(none)" : roles, endCredentials: false, ct);

    /// <summary>Suspends the user: every session, refresh family and access token ends; logins fail until unsuspended.</summary>
    public ValueTask<UserOutcome> SuspendAsync(string username, CancellationToken ct) =>
        ChangeAsync(username, u => u with { Suspended = true }, AuditEventKind.UserSuspended, "suspended", endCredentials: true, ct);

    /// <summary>Lifts a suspension; the user logs in again to get credentials.</summary>
    public ValueTask<UserOutcome> UnsuspendAsync(string username, CancellationToken ct) =>
        ChangeAsync(username, u => u with { Suspended = false }, AuditEventKind.UserUnsuspended, "unsuspended", endCredentials: false, ct);

    /// <summary>Clears a lockout after failed logins.</summary>
    public ValueTask<UserOutcome> UnlockAsync(string username, CancellationToken ct) =>
        ChangeAsync(username, u => u with { FailedLogins = 0, LockedUntil = null }, AuditEventKind.UserUnlocked, "unlocked", endCredentials: false, ct);

    /// <summary>Deletes the account and ends every credential of it.</summary>
    public async ValueTask<UserOutcome> DeleteUserAsync(string username, CancellationToken ct)
    {
        if (await _store.GetAsync(username, ct).ConfigureAwait(false) is null) return UserOutcome.NotFound;
        await RevokeUserAsync(username, "user_deleted", ct).ConfigureAwait(false);
        if (!await _store.DeleteAsync(username, ct).ConfigureAwait(false)) return UserOutcome.NotFound;
        await AnnounceUserAsync(username, ct).ConfigureAwait(false);
        await AuditAsync(AuditEventKind.UserDeleted, username, null, "deleted", ct).ConfigureAwait(false);
        return UserOutcome.Ok;
    }

    /// <summary>
    /// Ends everything of a user at once (log out everywhere, an admin's revoke): every session, every refresh
    /// family, and every access or hybrid token issued before now by the user cut-off. Returns the sessions ended.
    /// </summary>
    /// <param name="userId">The user.</param>
    /// <param name="reason">Why, for the audit trail and metrics: <c>logout_all</c>, <c>admin_revoke</c>, <c>cli_revoke</c>.</param>
    /// <param name="ct">Cancels the operation.</param>
    public async ValueTask<int> RevokeUserAsync(string userId, string reason, CancellationToken ct)
    {
        // The sessions and the families side by side: each announces its cut-off first and then stores, neither needs
        // the other, and a logout everywhere under load waits for the longer of the two chains of round trips instead of
        // their sum (bench/results/propagation.md); a failure of one does not stop the other. The sessions' half starts
        // first: its first step, the sign-out, refuses every session and token from before now on every instance, so
        // nothing of the families' half runs ahead of it on a busy thread.
        var sessions = _sessions.EndUserSessionsAsync(userId, reason, ct).AsTask();
        var families = _refresh.RevokeUserAsync(userId, reason, ct).AsTask();
        // Awaiting WhenAll rethrows the first failure as itself (a store outage stays a 503).
        await Task.WhenAll(sessions, families).ConfigureAwait(false);
        return await sessions.ConfigureAwait(false);
    }

    /// <summary>
    /// Logout with a token: a hybrid exchange token names its session (<c>sid</c> = the session handle), which ends
    /// (and with it the token); a JWT-mode token names its refresh family, which is revoked.
    /// </summary>
    public async ValueTask<bool> EndTokenAsync(string userId, string sid, string reason, CancellationToken ct)
    {
        if (SessionKey.TryParseHandle(sid, out _) && await _sessions.EndSessionAsync(userId, sid, reason, ct).ConfigureAwait(false)) return true;
        await _refresh.RevokeFamilyAsync(userId, sid, reason, ct).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Changes the password after checking the current one. The caller's session (<paramref name="sessionId"/>, when
    /// it asked with one) gets a new id. With <paramref name="signOutOthers"/> every other session and every refresh
    /// family of the user ends, and a token caller (<paramref name="reissueTokens"/>) gets a new family.
    /// </summary>
    public ValueTask<PasswordChange> ChangePasswordAsync(string username, string? currentPassword, string? newPassword, bool signOutOthers,
        string? sessionId, bool reissueTokens, CancellationToken ct) =>
        ChangePasswordAsync(username, currentPassword, newPassword, signOutOthers, sessionId, reissueTokens, null, ct);

    /// <summary>
    /// As <see cref="ChangePasswordAsync(string, string?, string?, bool, string?, bool, CancellationToken)"/>; the new family
    /// of a token caller is bound to <paramref name="dpopJkt"/> (the RFC 7638 thumbprint of the key its DPoP-bound token
    /// named), so a client that held bound tokens does not come out of a password change with bearer ones (RFC 9449 5).
    /// </summary>
    public async ValueTask<PasswordChange> ChangePasswordAsync(string username, string? currentPassword, string? newPassword, bool signOutOthers,
        string? sessionId, bool reissueTokens, string? dpopJkt, CancellationToken ct)
    {
        if (!_users.IsAcceptablePassword(newPassword)) return new PasswordChange(UserOutcome.Invalid);
        var (outcome, user) = await _users.AuthenticateAsync(username, currentPassword, ct).ConfigureAwait(false);
        if (outcome != UserOutcome.Ok) return new PasswordChange(outcome);
        if (!await _store.SetPasswordHashAsync(user!.Username, await PasswordHasher.HashAsync(newPassword!, ct).ConfigureAwait(false), ct).ConfigureAwait(false))
            return new PasswordChange(UserOutcome.NotFound);

        string? newSessionId = null;
        if (sessionId is not null && await _sessions.RotateAsync(sessionId, ct).ConfigureAwait(false) is { } rotated) newSessionId = rotated.Id;
        RefreshResult? tokens = null;
        if (signOutOthers)
        {
            var keep = newSessionId is null ? null : (await _sessions.GetAsync(newSessionId, ct).ConfigureAwait(false))?.Handle;
            foreach (var other in await _sessions.ListUserAsync(user.Username, ct).ConfigureAwait(false))
                if (other.Handle != keep) await _sessions.EndSessionAsync(user.Username, other.Handle, "password_changed", ct).ConfigureAwait(false);
            await _refresh.RevokeUserAsync(user.Username, "password_changed", ct).ConfigureAwait(false);
            // The current password was just proved: the new family's auth_time is now.
            if (reissueTokens) tokens = await _refresh.IssueAsync(user.Username, user.Roles.Length == 0 ? null : user.Roles, ct, _time.GetUtcNow(), dpopJkt).ConfigureAwait(false);
        }
        await AuditAsync(AuditEventKind.PasswordChanged, user.Username, null, signOutOthers ? "others_signed_out" : "others_kept", ct).ConfigureAwait(false);
        return new PasswordChange(UserOutcome.Ok, newSessionId, tokens);
    }

    /// <summary>
    /// An incident's "revoke everyone": every access token, session and refresh family of every user issued or
    /// started before now is refused on every instance and downstream verifier. Users log in again.
    /// </summary>
    public async ValueTask RevokeEveryoneAsync(string reason, CancellationToken ct)
    {
        var cutOff = NextWholeSecond();
        // Kept while anything from before it could still be presented: the longest family, session or token, plus skew.
        var longest = new[] { _options.Refresh.FamilyLifetime, _options.Sessions.AbsoluteTimeout, _options.MaxAccessTokenLifetime }.Max() + _options.Refresh.ClockSkew;
        await _channel.PublishAsync(new RevocationRecord(RevocationKind.Everyone, "*", cutOff, cutOff + longest), ct).ConfigureAwait(false);
        await AuditAsync(AuditEventKind.EveryoneCutOff, null, null, reason, ct).ConfigureAwait(false);
    }

    private async ValueTask<UserOutcome> ChangeAsync(string username, Func<UserRecord, UserRecord> change, AuditEventKind kind, string detail, bool endCredentials, CancellationToken ct)
    {
        if (await _store.GetAsync(username, ct).ConfigureAwait(false) is not { } user) return UserOutcome.NotFound;
        if (!await _store.UpdateAsync(change(user), ct).ConfigureAwait(false)) return UserOutcome.NotFound;
        _directory?.Evict(username);
        if (endCredentials) await RevokeUserAsync(username, kind.Name(), ct).ConfigureAwait(false);
        else await AnnounceUserAsync(username, ct).ConfigureAwait(false);
        await AuditAsync(kind, username, null, detail, ct).ConfigureAwait(false);
        return UserOutcome.Ok;
    }

    // The user cut-off doubles as "this account changed": every instance evicts the account and its cached sessions,
    // and tokens minted before refresh to pick the change up.
    private async ValueTask AnnounceUserAsync(string username, CancellationToken ct)
    {
        _directory?.Evict(username);
        var cutOff = NextWholeSecond();
        var keep = _options.MaxAccessTokenLifetime + _options.Refresh.ClockSkew;
        if (keep < SessionRevocations.DefaultAnnouncement) keep = SessionRevocations.DefaultAnnouncement;
        await _channel.PublishAsync(new RevocationRecord(RevocationKind.User, username, cutOff, cutOff + keep), ct).ConfigureAwait(false);
    }

    // A token's iat has whole seconds, so a cut-off at the current second lets a token minted earlier in that second
    // through. Cut-offs that keep credentials alive (a role change) start at the next second instead; the engine mints
    // later tokens, sessions and families at or after a cut-off (RevocationSet.NotBefore), so they are not refused.
    private DateTimeOffset NextWholeSecond() => DateTimeOffset.FromUnixTimeSeconds(_time.GetUtcNow().ToUnixTimeSeconds() + 1);

    private ValueTask AuditAsync(AuditEventKind kind, string? subject, string? target, string reason, CancellationToken ct) =>
        _audit is null ? ValueTask.CompletedTask : new ValueTask(_audit.RecordAsync(kind, subject, target, reason, ct).AsTask());
}
