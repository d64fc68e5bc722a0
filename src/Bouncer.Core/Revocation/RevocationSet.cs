using System.Collections.Concurrent;

namespace Bouncer.Revocation;

/// <summary>
/// The in-memory revocation state a verifier checks after the signature: O(1) lookups, no I/O, no
/// allocation. Fed by a <see cref="RevocationListener"/>; entries fall out after their expiry.
/// Thread-safe.
/// </summary>
public sealed class RevocationSet
{
    private readonly ConcurrentDictionary<string, long> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _tokens = new(StringComparer.Ordinal);
    // user -> (not-before in unix seconds, entry expiry in unix ms)
    private readonly ConcurrentDictionary<string, (long NotBefore, long Expires)> _users = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long>.AlternateLookup<ReadOnlySpan<char>> _sessionsBySpan;
    private readonly ConcurrentDictionary<string, long>.AlternateLookup<ReadOnlySpan<char>> _tokensBySpan;
    private readonly ConcurrentDictionary<string, (long NotBefore, long Expires)>.AlternateLookup<ReadOnlySpan<char>> _usersBySpan;

    public RevocationSet()
    {
        _sessionsBySpan = _sessions.GetAlternateLookup<ReadOnlySpan<char>>();
        _tokensBySpan = _tokens.GetAlternateLookup<ReadOnlySpan<char>>();
        _usersBySpan = _users.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Number of entries held (all kinds).</summary>
    public int Count => _sessions.Count + _tokens.Count + _users.Count;

    /// <summary>Records a revocation. Idempotent; a later user not-before wins over an earlier one.</summary>
    public void Apply(in RevocationRecord revocation)
    {
        var expires = revocation.ExpiresAt.ToUnixTimeMilliseconds();
        switch (revocation.Kind)
        {
            case RevocationKind.Session:
                _sessions.AddOrUpdate(revocation.Subject, expires, (_, old) => Math.Max(old, expires));
                break;
            case RevocationKind.Token:
                _tokens.AddOrUpdate(revocation.Subject, expires, (_, old) => Math.Max(old, expires));
                break;
            case RevocationKind.User:
                // iat has one-second precision. The cut-off is the whole second of the revocation, and
                // a token is refused when iat < cut-off: a token issued earlier in that same second
                // survives this check, so "log out everywhere" also revokes each session by sid. A
                // login one millisecond after the revocation (iat == cut-off) is accepted at once.
                var notBefore = revocation.At.ToUnixTimeSeconds();
                _users.AddOrUpdate(revocation.Subject, (notBefore, expires),
                    (_, old) => (Math.Max(old.NotBefore, notBefore), Math.Max(old.Expires, expires)));
                break;
        }
    }

    /// <summary>
    /// True when a token with these claims is revoked: its session, its id, or its user's tokens issued
    /// before a cut-off. Empty spans never match.
    /// </summary>
    public bool IsRevoked(ReadOnlySpan<char> sid, ReadOnlySpan<char> jti, ReadOnlySpan<char> sub, long issuedAtUnixSeconds)
    {
        // Empty dictionaries are the common case: skip the hashing entirely.
        if (!_sessions.IsEmpty && !sid.IsEmpty && _sessionsBySpan.ContainsKey(sid)) return true;
        if (!_tokens.IsEmpty && !jti.IsEmpty && _tokensBySpan.ContainsKey(jti)) return true;
        return !_users.IsEmpty && !sub.IsEmpty && _usersBySpan.TryGetValue(sub, out var cut) && issuedAtUnixSeconds < cut.NotBefore;
    }

    /// <summary>True when the session (or refresh family) id is revoked.</summary>
    public bool IsSessionRevoked(ReadOnlySpan<char> sid) => !_sessions.IsEmpty && _sessionsBySpan.ContainsKey(sid);

    /// <summary>Drops entries whose expiry has passed; returns how many.</summary>
    public int Prune(DateTimeOffset now)
    {
        var ms = now.ToUnixTimeMilliseconds();
        var removed = 0;
        foreach (var (k, v) in _sessions) if (v <= ms && _sessions.TryRemove(new(k, v))) removed++;
        foreach (var (k, v) in _tokens) if (v <= ms && _tokens.TryRemove(new(k, v))) removed++;
        foreach (var (k, v) in _users) if (v.Expires <= ms && _users.TryRemove(new(k, v))) removed++;
        return removed;
    }
}
