using System.Collections.Concurrent;
using Bouncer.Revocation;

namespace Bouncer.Sessions;

/// <summary>Options of the <see cref="NearCacheSessionStore"/>.</summary>
public sealed class NearCacheOptions
{
    /// <summary>Most records held; past it, the cache makes room before adding. Default 100,000.</summary>
    public int MaxEntries { get; set; } = 100_000;

    /// <summary>
    /// Longest a record is served from memory without a store read. A cached record never outlives its
    /// own <see cref="SessionRecord.ExpiresAt"/>. Default 5 minutes.
    /// </summary>
    public TimeSpan TimeToLive { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>
/// A bounded in-process cache in front of a shared store: a session check costs a dictionary lookup.
/// Every change that ends a session (delete, rotate, log out everywhere) is published on the revocation
/// channel, and every instance's cache evicts on that push, so a revoke anywhere is honoured everywhere
/// within the propagation time. Sweeps need no push: a cached record never outlives its expiry.
/// </summary>
/// <remarks>
/// When the push connection is stale (<see cref="RevocationListener.IsStale"/>) the cache is bypassed
/// and every read goes to the store, so a missed eviction cannot keep a revoked session alive.
/// </remarks>
public sealed class NearCacheSessionStore : ISessionStore
{
    private readonly ISessionStore _inner;
    private readonly IRevocationChannel _channel;
    private readonly RevocationListener _listener;
    private readonly TimeProvider _time;
    private readonly NearCacheOptions _options;
    private readonly ConcurrentDictionary<SessionKey, Entry> _entries = new();
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<SessionKey, byte>> _byUser = new(StringComparer.Ordinal);
    private readonly Lock _trimGate = new();
    private long _evictions;   // bumped before every eviction; lets a load tell that one raced it

    /// <param name="listener">This instance's listener on <paramref name="channel"/>; the cache observes it.</param>
    public NearCacheSessionStore(ISessionStore inner, IRevocationChannel channel, RevocationListener listener, TimeProvider? time = null, NearCacheOptions? options = null)
    {
        _inner = inner;
        _channel = channel;
        _listener = listener;
        _time = time ?? TimeProvider.System;
        _options = options ?? new NearCacheOptions();
        listener.Observe(OnRevocation);
    }

    /// <summary>Records currently cached.</summary>
    public int Count => _entries.Count;

    /// <inheritdoc/>
    public ValueTask<SessionRecord?> GetAsync(SessionKey key, CancellationToken ct)
    {
        if (_entries.TryGetValue(key, out var entry) && _time.GetUtcNow().UtcTicks < entry.FreshUntilTicks && !_listener.IsStale())
            return ValueTask.FromResult<SessionRecord?>(entry.Record);
        return LoadAsync(key, ct);
    }

    /// <inheritdoc/>
    public async ValueTask CreateAsync(SessionRecord record, CancellationToken ct)
    {
        await _inner.CreateAsync(record, ct).ConfigureAwait(false);
        Put(record);
    }

    /// <inheritdoc/>
    public async ValueTask<bool> UpdateAsync(SessionRecord record, CancellationToken ct)
    {
        var updated = await _inner.UpdateAsync(record, ct).ConfigureAwait(false);
        if (updated) Put(record); else Evict(record.Key);
        return updated;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> TouchAsync(SessionRecord record, CancellationToken ct)
    {
        var touched = await _inner.TouchAsync(record, ct).ConfigureAwait(false);
        // The store kept its own data and client, which this copy may predate: reload on next use, not cache this.
        // A housekeeping drop when it worked (a touch ends nothing); a real eviction when the record was gone.
        if (touched) Drop(record.Key); else Evict(record.Key);
        return touched;
    }

    public async ValueTask<bool> RotateAsync(SessionKey oldKey, SessionRecord next, CancellationToken ct)
    {
        var rotated = await _inner.RotateAsync(oldKey, next, ct).ConfigureAwait(false);
        Evict(oldKey);
        if (rotated)
        {
            Put(next);
            await PublishAsync(RevocationKind.Session, oldKey.ToString(), ct).ConfigureAwait(false);
        }
        return rotated;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> DeleteAsync(SessionKey key, CancellationToken ct)
    {
        var deleted = await _inner.DeleteAsync(key, ct).ConfigureAwait(false);
        Evict(key);
        if (deleted) await PublishAsync(RevocationKind.Session, key.ToString(), ct).ConfigureAwait(false);
        return deleted;
    }

    /// <inheritdoc/>
    public async ValueTask<int> DeleteUserAsync(string userId, CancellationToken ct)
    {
        var sessions = await _inner.ListUserAsync(userId, ct).ConfigureAwait(false);
        var deleted = await _inner.DeleteUserAsync(userId, ct).ConfigureAwait(false);
        EvictUser(userId);
        await SessionRevocations.PublishUserAsync(_channel, userId, sessions, _time, AnnounceFor, ct).ConfigureAwait(false);
        return deleted;
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<SessionRecord>> ListUserAsync(string userId, CancellationToken ct) =>
        _inner.ListUserAsync(userId, ct);

    /// <inheritdoc/>
    public ValueTask<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken ct) =>
        _inner.SweepAsync(now, batchSize, ct);

    private async ValueTask<SessionRecord?> LoadAsync(SessionKey key, CancellationToken ct)
    {
        var evictionsBefore = Volatile.Read(ref _evictions);
        var record = await _inner.GetAsync(key, ct).ConfigureAwait(false);
        if (record is null)
        {
            // Whatever deleted it bumped the count itself (a local delete or the push); an unknown id must not, or
            // random cookies would keep every concurrent load from caching.
            Drop(key);
            return null;
        }
        Put(record);
        // An eviction (a delete here, or a push from another instance) that landed while the read was in flight may
        // have been for this very record: it was already dead when cached. Checked after the Put, so an eviction
        // either sees the entry and removes it, or has bumped the count that this check reads.
        if (Volatile.Read(ref _evictions) != evictionsBefore) Evict(record.Key);
        return record;
    }

    // Other caches hold an entry at most TimeToLive, and hybrid tokens of a session live minutes: the
    // announcement outlives both.
    private TimeSpan AnnounceFor =>
        _options.TimeToLive > SessionRevocations.DefaultAnnouncement ? _options.TimeToLive : SessionRevocations.DefaultAnnouncement;

    private ValueTask PublishAsync(RevocationKind kind, string subject, CancellationToken ct) =>
        SessionRevocations.PublishAsync(_channel, kind, subject, _time, AnnounceFor, ct);

    private void OnRevocation(RevocationRecord revocation)
    {
        switch (revocation.Kind)
        {
            case RevocationKind.Session when SessionKey.TryParseHandle(revocation.Subject, out var key):
                Evict(key);
                break;
            case RevocationKind.User:
                EvictUser(revocation.Subject);
                break;
        }
    }

    private void Put(SessionRecord record)
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

    private void Evict(SessionKey key)
    {
        Interlocked.Increment(ref _evictions);
        Drop(key);
    }

    // Removal for the cache's own housekeeping (expiry, trimming), which no load needs to hear about.
    private void Drop(SessionKey key)
    {
        if (_entries.TryRemove(key, out var entry) && _byUser.TryGetValue(entry.Record.UserId, out var keys)) keys.TryRemove(key, out _);
    }

    private void EvictUser(string userId)
    {
        Interlocked.Increment(ref _evictions);
        if (!_byUser.TryRemove(userId, out var keys)) return;
        foreach (var key in keys.Keys) _entries.TryRemove(key, out _);
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
