using Bouncer.Diagnostics;
using Bouncer.Refresh;
using Bouncer.Sessions;

namespace Bouncer.Access;

/// <summary>
/// Access changes that span credential kinds, each one engine call: a user's sessions, refresh families and access
/// tokens end together (stored, evicted from near caches, announced to every instance and downstream verifier,
/// audited). Endpoints and CLI commands translate to these calls and do nothing else. Thread-safe.
/// </summary>
public sealed class AccessManager
{
    private readonly SessionManager _sessions;
    private readonly RefreshTokenService _refresh;

    /// <summary>Builds the access changes on the engine's session and refresh services.</summary>
    public AccessManager(SessionManager sessions, RefreshTokenService refresh)
    {
        _sessions = sessions ?? throw new ArgumentNullException(nameof(sessions));
        _refresh = refresh ?? throw new ArgumentNullException(nameof(refresh));
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
        var ended = await _sessions.EndUserSessionsAsync(userId, reason, ct).ConfigureAwait(false);
        await _refresh.RevokeUserAsync(userId, reason, ct).ConfigureAwait(false);
        return ended;
    }

    /// <summary>
    /// Logout with a token: a hybrid exchange token names its session (<c>sid</c> = the session handle), which ends
    /// (and with it the token); a JWT-mode token names its refresh family, which is revoked. False when the
    /// <paramref name="sid"/> names neither a session of <paramref name="userId"/> nor a family.
    /// </summary>
    public async ValueTask<bool> EndTokenAsync(string userId, string sid, string reason, CancellationToken ct)
    {
        if (SessionKey.TryParseHandle(sid, out _) && await _sessions.EndSessionAsync(userId, sid, reason, ct).ConfigureAwait(false)) return true;
        await _refresh.RevokeFamilyAsync(userId, sid, reason, ct).ConfigureAwait(false);
        return true;
    }
}
