using System.Collections.Concurrent;

namespace Bouncer.Sessions;

/// <summary>
/// An in-process store for tests and single-process apps. Records live in one dictionary; a per-user
/// index makes listing and "log out everywhere" proportional to the user's sessions, and an expiry queue makes a
/// sweep proportional to what it deletes. Lost at exit.
/// </summary>
public sealed class MemorySessionStore : ISessionStore
{
    private readonly ConcurrentDictionary<SessionKey, SessionRecord> _records = new();
    private readonly Dictionary<string, HashSet<SessionKey>> _byUser = new(StringComparer.Ordinal);
    // Every expiry ever written, earliest first: one entry per create, touch, update and rotation. An entry whose
    // record is gone or has moved its expiry since is stale and dropped when it comes up, so a sweep only visits
    // entries at or before now instead of scanning every record (1M records: the scan per batch made it quadratic).
    private readonly PriorityQueue<SessionKey, long> _expiries = new();
    // Index upkeep and multi-key changes happen under one lock; plain reads go lock-free.
    private readonly Lock _gate = new();

    /// <summary>Number of records held (live or not yet swept).</summary>
    public int Count => _records.Count;

    /// <inheritdoc/>
    public ValueTask<SessionRecord?> GetAsync(SessionKey key, CancellationToken ct) =>
        ValueTask.FromResult(_records.TryGetValue(key, out var r) ? r : null);

    /// <inheritdoc/>
    public ValueTask CreateAsync(SessionRecord record, CancellationToken ct)
    {
        lock (_gate)
        {
            if (!_records.TryAdd(record.Key, record)) throw new SessionKeyCollisionException();
            Index(record);
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask<bool> TouchAsync(SessionRecord record, CancellationToken ct)
    {
        lock (_gate)
        {
            if (!_records.TryGetValue(record.Key, out var current) || current.UserId != record.UserId)
                return ValueTask.FromResult(false);
            _records[record.Key] = current with { LastSeenAt = record.LastSeenAt, ExpiresAt = record.ExpiresAt };
            QueueMovedExpiry(record.Key, current.ExpiresAt, record.ExpiresAt);
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc/>
    public ValueTask<bool> UpdateAsync(SessionRecord record, CancellationToken ct)
    {
        lock (_gate)
        {
            if (!_records.TryGetValue(record.Key, out var current) || current.UserId != record.UserId)
                return ValueTask.FromResult(false);
            _records[record.Key] = record with { CreatedAt = current.CreatedAt, AbsoluteExpiresAt = current.AbsoluteExpiresAt };
            QueueMovedExpiry(record.Key, current.ExpiresAt, record.ExpiresAt);
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc/>
    public ValueTask<bool> RotateAsync(SessionKey oldKey, SessionRecord next, CancellationToken ct)
    {
        lock (_gate)
        {
            if (!_records.TryGetValue(oldKey, out var old)) return ValueTask.FromResult(false);
            if (_records.ContainsKey(next.Key)) throw new SessionKeyCollisionException();
            Remove(old);
            _records[next.Key] = next;
            Index(next);
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc/>
    public ValueTask<bool> DeleteAsync(SessionKey key, CancellationToken ct)
    {
        lock (_gate)
        {
            if (!_records.TryGetValue(key, out var r)) return ValueTask.FromResult(false);
            Remove(r);
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc/>
    public ValueTask<int> DeleteUserAsync(string userId, CancellationToken ct)
    {
        lock (_gate)
        {
            if (!_byUser.Remove(userId, out var keys)) return ValueTask.FromResult(0);
            var n = 0;
            foreach (var k in keys) n += _records.TryRemove(k, out _) ? 1 : 0;
            return ValueTask.FromResult(n);
        }
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<SessionRecord>> ListUserAsync(string userId, CancellationToken ct)
    {
        lock (_gate)
        {
            IReadOnlyList<SessionRecord> list = _byUser.TryGetValue(userId, out var keys)
                ? keys.Select(k => _records[k]).ToList()
                : [];
            return ValueTask.FromResult(list);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Takes entries off the expiry queue while they are at or before <paramref name="now"/>: the work is
    /// proportional to what is deleted (plus stale entries of records renewed or deleted since), not to the
    /// records held. Readers never wait (they read lock-free); writers wait for at most one batch.</remarks>
    public ValueTask<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var nowTicks = now.UtcTicks;
        var n = 0;
        lock (_gate)
        {
            while (n < batchSize && _expiries.TryPeek(out var key, out var expiresTicks) && expiresTicks <= nowTicks)
            {
                _expiries.Dequeue();
                // Stale when the record is gone or its expiry moved (its newer entry is queued too).
                if (!_records.TryGetValue(key, out var current) || current.ExpiresAt.UtcTicks != expiresTicks) continue;
                Remove(current);
                n++;
            }
        }
        return ValueTask.FromResult(n);
    }

    private void QueueExpiry(SessionKey key, DateTimeOffset expiresAt) => _expiries.Enqueue(key, expiresAt.UtcTicks);

    // A data change that keeps the expiry needs no entry: the queued one still matches. So an app writing session
    // data on every request does not grow the queue.
    private void QueueMovedExpiry(SessionKey key, DateTimeOffset was, DateTimeOffset now)
    {
        if (was.UtcTicks != now.UtcTicks) QueueExpiry(key, now);
    }

    private void Index(SessionRecord r)
    {
        if (!_byUser.TryGetValue(r.UserId, out var keys)) _byUser[r.UserId] = keys = [];
        keys.Add(r.Key);
        QueueExpiry(r.Key, r.ExpiresAt);
    }

    private void Remove(SessionRecord r)
    {
        _records.TryRemove(r.Key, out _);
        if (_byUser.TryGetValue(r.UserId, out var keys) && keys.Remove(r.Key) && keys.Count == 0) _byUser.Remove(r.UserId);
    }
}
