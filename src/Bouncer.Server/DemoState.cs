using System.Collections.Concurrent;

namespace Bouncer.Server;

/// <summary>
/// The simulator's per-visitor switches, held by the demo host only (never by the library): which users turned the
/// revocation push off for their own tokens, and which tokens (by <c>jti</c>) the demo clock has expired.
/// </summary>
public sealed class DemoState
{
    private readonly ConcurrentDictionary<string, byte> _pushOff = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _expired = new(StringComparer.Ordinal);

    /// <summary>True unless <paramref name="user"/> turned the push off for their own tokens.</summary>
    public bool PushEnabledFor(string user) => !_pushOff.ContainsKey(user);

    /// <summary>Turns the push on or off for <paramref name="user"/>'s own tokens only.</summary>
    public void SetPush(string user, bool enabled)
    {
        if (enabled) _pushOff.TryRemove(user, out _);
        else _pushOff[user] = 0;
    }

    /// <summary>Judges the token with this id as expired from now on (a refreshed token has another id).</summary>
    public void Expire(string tokenId) => _expired[tokenId] = 0;

    /// <summary>True when the demo clock expired this token.</summary>
    public bool IsExpired(string? tokenId) => tokenId is not null && _expired.ContainsKey(tokenId);
}
