using System.Collections.Concurrent;

namespace Bouncer.Server;

/// <summary>
/// The simulator's per-visitor switches, held by the demo host only (never by the library): which credentials (by
/// <c>sid</c>: a session handle, or a refresh family) have the revocation push turned off, and which tokens (by
/// <c>jti</c>) the demo clock has expired. Keyed by credential, not user, so a token cannot switch off checks for
/// the user's other credentials.
/// </summary>
public sealed class DemoState
{
    private readonly ConcurrentDictionary<string, byte> _pushOff = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _expired = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _expiredSessions = new(StringComparer.Ordinal);

    /// <summary>True unless the push was turned off for the credential <paramref name="sid"/> (tokens of it, or minted from it).</summary>
    public bool PushEnabledFor(string? sid) => sid is null || !_pushOff.ContainsKey(sid);

    /// <summary>Turns the push on or off for the tokens of one credential only.</summary>
    public void SetPush(string sid, bool enabled)
    {
        if (enabled) _pushOff.TryRemove(sid, out _);
        else _pushOff[sid] = 0;
    }

    /// <summary>Judges the token with this id as expired from now on (a refreshed token has another id).</summary>
    public void Expire(string tokenId) => _expired[tokenId] = 0;

    /// <summary>Notes that the demo clock expired the session with this handle at <paramref name="at"/>: the engine deletes
    /// an expired record when it next finds it, and the simulator still tells "expired" from "revoked".</summary>
    public void ExpireSession(string handle, DateTimeOffset at) => _expiredSessions[handle] = at;

    /// <summary>When the demo clock expired the session with this handle, or null.</summary>
    public DateTimeOffset? SessionExpiredAt(string handle) => _expiredSessions.TryGetValue(handle, out var at) ? at : null;

    /// <summary>True when the demo clock expired this token.</summary>
    public bool IsExpired(string? tokenId) => tokenId is not null && _expired.ContainsKey(tokenId);
}
