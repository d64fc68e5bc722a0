using System.Collections.Concurrent;
using Bouncer.Revocation;

namespace Bouncer.Sessions;

/// <summary>
/// The near cache: a bounded in-process map of session records in front of a shared store, so a session check costs
/// a dictionary lookup. It only caches: the <see cref="SessionManager"/> fills it and evicts what its own changes end,
/// and every revocation this instance's <see cref="RevocationListener"/> applies (pushed by another instance, the
/// CLI, or replayed from the log) evicts here too, so a revoke anywhere is honoured everywhere within the
/// propagation time. Sweeps need no push: a cached record never outlives its expiry.
/// </summary>
/// <remarks>
/// When the push connection is stale (<see cref="RevocationListener.IsStale"/>) nothing is served from memory: a
/// missed eviction must not keep a revoked session alive.
/// </remarks>
public sealed class SessionCache
{
    private readonly RevocationListener _listener;
    private readonly TimeProvider _time;
    private readonly NearCacheOptions _options;
    private readonly ConcurrentDictionary<SessionKey, Entry> _entries = new();
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<SessionKey, byte>> _byUser = new(StringComparer.Ordinal);
    private readonly Lock _trimGate = new();
    private long _evictions;   // bumped before every eviction; lets a load tell that one raced it

    /// <param name="listener">This instance's listener on the deployment's revocation channel; the cache observes it.</param>
    /// <param name="time">The clock; null: the system clock.</param>
    /// <param name="options">Size and hold time; null: the defaults.</param>
    public SessionCache(RevocationListener listener, TimeProvider? time = null, NearCacheOptions? options = null)
    {
        _listener = listener ?? throw new ArgumentNullException(nameof(listener));
        _time = time ?? TimeProvider.System;
        _options = options ?? new NearCacheOptions();
        _options.Validate();
        listener.Observe(OnRevocation);
    }

    /// <summary>Records currently cached.</summary>
    public int Count => _entries.Count;

    /// <summary>Longest a record is held; announcements of a session's end must outlive it.</summary>
    public TimeSpan TimeToLive => _options.TimeToLive;

    /// <summary>Evictions so far: read before a store read, hand to <see cref="Add"/> after it.</summary>
    public long Evictions => Volatile.Read(ref _evictions);

    /// <summary>The cached record when it is fresh and the revocation state can vouch for the cache.</summary>
    public bool TryGet(SessionKey key, out SessionRecord record)
    {
        if (_entries.TryGetValue(key, out var entry) && _time.GetUtcNow().UtcTicks < entry.FreshUntilTicks && !_listener.IsStale())
        {
            record = entry.Record;
            return true;
        }
        record = null!;
        return false;
    }

    /// <summary>
    /// Caches a record just read from the store. An eviction (a delete here, or a push from another instance) that
    /// landed while the read was in flight may have been for this very record, which was then already dead: it is
    /// evicted again. Checked after the put, so an eviction either sees the entry or bumped the count read here.
    /// </summary>
    public void Add(SessionRecord record, long evictionsBeforeRead)
    {
        Put(record);
        if (Volatile.Read(ref _evictions) != evictionsBeforeRead) Evict(record.Key);
    }

    /// <summary>Caches a record this instance just wrote.</summary>
    public void Put(SessionRecord record)
    {
        var nowTicks = _time.GetUtcNow().UtcTicks;
        var fresh = Math.Min(nowTicks + _options.TimeToLive.Ticks, record.ExpiresAt.UtcTicks);
        if (fresh <= nowTicks)
        {
            Drop(record.Key);
            return;
        }
        if (_entries.Count >= _options.MaxEntries) Trim(nowTicks);
        _entries[record.Key] = new Entry(record, fresh);
        _byUser.GetOrAdd(record.UserId, static _ => new())[record.Key] = 0;
    }

    /// <summary>Removes a record because its session ended (counts as an eviction, so a racing load does not keep it).</summary>
    public void Evict(SessionKey key)
    {
        Interlocked.Increment(ref _evictions);
        Drop(key);
    }

    /// <summary>Removes every record of a user because their sessions ended.</summary>
    public void EvictUser(string userId)
    {
        Interlocked.Increment(ref _evictions);
        if (!_byUser.TryRemove(userId, out var keys)) return;
        foreach (var key in keys.Keys) _entries.TryRemove(key, out _);
    }

    /// <summary>
    /// Removes a record for housekeeping (an unknown id, a touch whose stored copy may be newer): no session ended,
    /// so concurrent loads keep what they read; random cookies must not stop all caching.
    /// </summary>
    public void Drop(SessionKey key)
    {
        if (_entries.TryRemove(key, out var entry) && _byUser.TryGetValue(entry.Record.UserId, out var keys)) keys.TryRemove(key, out _);
    }

    private void OnRevocation(RevocationRecord revocation)
    {
        switch (revocation.Kind)
        {
            case RevocationKind.Session when SessionKey.TryParseHandle(revocation.Subject, out var key):
                Evict(key);
                break;
            case RevocationKind.User or RevocationKind.SignOut:
                EvictUser(revocation.Subject);
                break;
            case RevocationKind.Everyone:
                Interlocked.Increment(ref _evictions);
                _entries.Clear();
                _byUser.Clear();
                break;
        }
    }

    // Bounded memory: drop stale entries first, then an eighth of the rest in enumeration order.
    private void Trim(long nowTicks)
    {
        lock (_trimGate)
        {
            if (_entries.Count < _options.MaxEntries) return;
            foreach (var (key, entry) in _entries) if (entry.FreshUntilTicks <= nowTicks) Drop(key);
            var excess = _entries.Count - _options.MaxEntries * 7 / 8;
            foreach (var key in _entries.Keys)
            {
                if (excess-- <= 0) break;
                Drop(key);
            }
        }
    }

    private sealed record Entry(SessionRecord Record, long FreshUntilTicks);
}
