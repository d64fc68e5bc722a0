using System.Collections.Concurrent;
using System.Runtime.InteropServices;

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
    // user -> (sessions started before this, unix ms; entry expiry in unix ms), from RevocationKind.SignOut. Behind the
    // user filter: a user signed out is also in _users.
    private readonly ConcurrentDictionary<string, (long NotBefore, long Expires)> _signOuts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (long NotBefore, long Expires)>.AlternateLookup<ReadOnlySpan<char>> _signOutsBySpan;
    // Revoked signing keys (RevocationKind.Key): rare, so a count in front of the lookup instead of a filter.
    private readonly ConcurrentDictionary<string, long> _keys = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long>.AlternateLookup<ReadOnlySpan<char>> _keysBySpan;
    private volatile int _keyCount;

    // A presence filter per kind in front of the dictionaries: one bit per cheap 16-bit hash of the
    // identifier. Most tokens are not revoked, so most checks end at a clear bit without hashing the
    // string for a dictionary lookup. A set bit only means "look it up": no false negatives, because
    // a bit is set before its entry is added and the filters are rebuilt only under the same lock.
    private const int FilterBits = 1 << 16;
    private long[] _sessionFilter = new long[FilterBits / 64];
    private long[] _tokenFilter = new long[FilterBits / 64];
    private long[] _userFilter = new long[FilterBits / 64];
    private readonly Lock _writeGate = new();
    // The global cut-off (RevocationKind.Everyone): not-before in unix seconds, and when the entry expires (unix ms).
    private long _everyoneNotBefore = long.MinValue;
    private long _everyoneExpires;

    /// <summary>An empty set.</summary>
    public RevocationSet()
    {
        _sessionsBySpan = _sessions.GetAlternateLookup<ReadOnlySpan<char>>();
        _tokensBySpan = _tokens.GetAlternateLookup<ReadOnlySpan<char>>();
        _usersBySpan = _users.GetAlternateLookup<ReadOnlySpan<char>>();
        _signOutsBySpan = _signOuts.GetAlternateLookup<ReadOnlySpan<char>>();
        _keysBySpan = _keys.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Number of entries held (all kinds).</summary>
    public int Count => _sessions.Count + _tokens.Count + _users.Count + _signOuts.Count + _keys.Count + (EveryoneNotBefore == long.MinValue ? 0 : 1);

    /// <summary>Records a revocation. Idempotent; a later user not-before wins over an earlier one.</summary>
    public void Apply(in RevocationRecord revocation)
    {
        lock (_writeGate) ApplyLocked(revocation);
    }

    private void ApplyLocked(in RevocationRecord revocation)
    {
        var expires = revocation.ExpiresAt.ToUnixTimeMilliseconds();
        if (revocation.Kind == RevocationKind.Everyone)
        {
            Volatile.Write(ref _everyoneNotBefore, Math.Max(_everyoneNotBefore, revocation.At.ToUnixTimeSeconds()));
            _everyoneExpires = Math.Max(_everyoneExpires, expires);
            return;
        }
        if (revocation.Kind == RevocationKind.Key)
        {
            _keys.AddOrUpdate(revocation.Subject, expires, (_, old) => Math.Max(old, expires));
            _keyCount = _keys.Count;
            return;
        }
        // A kind this version does not know revokes nothing it can check: skipped rather than misfiled as a user.
        if (revocation.Kind is not (RevocationKind.Session or RevocationKind.Token or RevocationKind.User or RevocationKind.SignOut)) return;
        Mark(revocation.Kind switch
        {
            RevocationKind.Session => _sessionFilter,
            RevocationKind.Token => _tokenFilter,
            _ => _userFilter,
        }, revocation.Subject);
        switch (revocation.Kind)
        {
            case RevocationKind.Session:
                _sessions.AddOrUpdate(revocation.Subject, expires, (_, old) => Math.Max(old, expires));
                break;
            case RevocationKind.Token:
                _tokens.AddOrUpdate(revocation.Subject, expires, (_, old) => Math.Max(old, expires));
                break;
            case RevocationKind.SignOut:
                // Sessions carry their start in milliseconds, so their cut-off keeps them; its token part is a user cut-off.
                var sessionsBefore = revocation.At.ToUnixTimeMilliseconds();
                _signOuts.AddOrUpdate(revocation.Subject, (sessionsBefore, expires),
                    (_, old) => (Math.Max(old.NotBefore, sessionsBefore), Math.Max(old.Expires, expires)));
                goto case RevocationKind.User;
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
        if (issuedAtUnixSeconds < Volatile.Read(ref _everyoneNotBefore)) return true;
        if (MayContain(_sessionFilter, sid) && _sessionsBySpan.ContainsKey(sid)) return true;
        if (MayContain(_tokenFilter, jti) && _tokensBySpan.ContainsKey(jti)) return true;
        return MayContain(_userFilter, sub) && _usersBySpan.TryGetValue(sub, out var cut) && issuedAtUnixSeconds < cut.NotBefore;
    }

    /// <summary>
    /// The global cut-off in unix seconds: whatever was issued or started before it is revoked (long.MinValue: none).
    /// Sessions and refresh families compare their start against it.
    /// </summary>
    public long EveryoneNotBefore => Volatile.Read(ref _everyoneNotBefore);

    /// <summary>
    /// The earliest <c>iat</c> (unix seconds) a token of <paramref name="sub"/> may carry and pass: the later of the
    /// user's and the global cut-off (long.MinValue: none). Issuers start a new token at least there, so a token minted
    /// in the same second just after a cut-off is not refused by it.
    /// </summary>
    public long NotBefore(ReadOnlySpan<char> sub)
    {
        var everyone = Volatile.Read(ref _everyoneNotBefore);
        return MayContain(_userFilter, sub) && _usersBySpan.TryGetValue(sub, out var cut) ? Math.Max(cut.NotBefore, everyone) : everyone;
    }

    /// <summary>
    /// The earliest start (unix milliseconds) a session of <paramref name="sub"/> may have and stay live, from the user's
    /// latest sign-out everywhere (long.MinValue: none). The global cut-off is <see cref="EveryoneNotBefore"/>.
    /// </summary>
    public long SessionsNotBefore(ReadOnlySpan<char> sub) =>
        MayContain(_userFilter, sub) && _signOutsBySpan.TryGetValue(sub, out var cut) ? cut.NotBefore : long.MinValue;

    /// <summary>
    /// True when the signing key with this <c>kid</c> is revoked (compromised): every token it verifies is refused.
    /// Pass the kid of the key that verified the signature, not the header's claim. Empty never matches.
    /// </summary>
    public bool IsKeyRevoked(ReadOnlySpan<char> kid) => _keyCount != 0 && !kid.IsEmpty && _keysBySpan.ContainsKey(kid);

    /// <summary>True when the session (or refresh family) id is revoked.</summary>
    public bool IsSessionRevoked(ReadOnlySpan<char> sid) => MayContain(_sessionFilter, sid) && _sessionsBySpan.ContainsKey(sid);

    private static bool MayContain(long[] filter, ReadOnlySpan<char> id)
    {
        if (id.IsEmpty) return false;
        var bit = FilterIndex(id);
        return (Volatile.Read(ref filter[bit >> 6]) & (1L << (bit & 63))) != 0;
    }

    private static void Mark(long[] filter, ReadOnlySpan<char> id)
    {
        var bit = FilterIndex(id);
        Interlocked.Or(ref filter[bit >> 6], 1L << (bit & 63));
    }

    // Not a security boundary (a collision only costs a dictionary lookup): the length and the first and
    // last eight chars, mixed by a multiply. Identifiers are random, so their ends spread well.
    private static int FilterIndex(ReadOnlySpan<char> id)
    {
        var bytes = MemoryMarshal.AsBytes(id);
        ulong h = (ulong)id.Length * 0x9E3779B97F4A7C15UL;
        if (bytes.Length >= 16)
        {
            h ^= MemoryMarshal.Read<ulong>(bytes);
            h = (h ^ MemoryMarshal.Read<ulong>(bytes[^8..])) * 0xBF58476D1CE4E5B9UL;
        }
        else
        {
            foreach (var c in id) h = (h ^ c) * 0x100000001B3UL;
        }
        return (int)((h ^ (h >> 29)) * 0x94D049BB133111EBUL >> 48);
    }

    /// <summary>Drops entries whose expiry has passed; returns how many.</summary>
    public int Prune(DateTimeOffset now)
    {
        var ms = now.ToUnixTimeMilliseconds();
        var removed = 0;
        lock (_writeGate)
        {
            foreach (var (k, v) in _sessions) if (v <= ms && _sessions.TryRemove(new(k, v))) removed++;
            foreach (var (k, v) in _tokens) if (v <= ms && _tokens.TryRemove(new(k, v))) removed++;
            foreach (var (k, v) in _users) if (v.Expires <= ms && _users.TryRemove(new(k, v))) removed++;
            foreach (var (k, v) in _signOuts) if (v.Expires <= ms && _signOuts.TryRemove(new(k, v))) removed++;
            foreach (var (k, v) in _keys) if (v <= ms && _keys.TryRemove(new(k, v))) removed++;
            _keyCount = _keys.Count;
            if (_everyoneNotBefore != long.MinValue && _everyoneExpires <= ms)
            {
                Volatile.Write(ref _everyoneNotBefore, long.MinValue);
                removed++;
            }
            if (removed == 0) return 0;
            // Rebuilt under the write lock, so no concurrent Apply can set a bit in a discarded filter.
            _sessionFilter = Rebuild(_sessions.Keys);
            _tokenFilter = Rebuild(_tokens.Keys);
            _userFilter = Rebuild(_users.Keys.Concat(_signOuts.Keys));
        }
        return removed;
    }

    private static long[] Rebuild(IEnumerable<string> ids)
    {
        var filter = new long[FilterBits / 64];
        foreach (var id in ids) Mark(filter, id);
        return filter;
    }
}
