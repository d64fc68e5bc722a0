namespace Bouncer.Refresh;

/// <summary>An in-process refresh-token store for tests and single-process apps. Thread-safe.</summary>
public sealed class MemoryRefreshTokenStore : IRefreshTokenStore
{
    private readonly Dictionary<string, RefreshRecord> _records = new(StringComparer.Ordinal);
    // Each record's min(ExpiresAt, FamilyExpiresAt), earliest first, queued when it is inserted (neither ever
    // changes afterwards): a sweep takes what is due instead of scanning every record per batch. An entry whose
    // record is gone is dropped when it comes up.
    private readonly PriorityQueue<string, long> _expiries = new();
    private readonly Lock _gate = new();

    /// <inheritdoc/>
    public ValueTask CreateAsync(RefreshRecord record, CancellationToken ct)
    {
        lock (_gate)
        {
            if (!_records.TryAdd(record.TokenHash, record)) throw new InvalidOperationException("A refresh token with this hash exists.");
            QueueExpiry(record);
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask<RefreshRecord?> GetAsync(string tokenHash, CancellationToken ct)
    {
        lock (_gate) return ValueTask.FromResult(_records.GetValueOrDefault(tokenHash));
    }

    /// <inheritdoc/>
    public ValueTask<bool> RotateAsync(string currentHash, DateTimeOffset rotatedAt, RefreshRecord successor, CancellationToken ct)
    {
        lock (_gate)
        {
            if (!_records.TryGetValue(currentHash, out var current) || current.RotatedAt is not null || current.Revoked
                || _records.ContainsKey(successor.TokenHash))
                return ValueTask.FromResult(false);
            _records[currentHash] = current with { RotatedAt = rotatedAt };
            _records[successor.TokenHash] = successor;
            QueueExpiry(successor);
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc/>
    public ValueTask<int> RevokeFamilyAsync(string familyId, CancellationToken ct)
    {
        lock (_gate)
        {
            var hits = _records.Values.Where(r => r.FamilyId == familyId && !r.Revoked).ToList();
            foreach (var r in hits) _records[r.TokenHash] = r with { Revoked = true };
            return ValueTask.FromResult(hits.Count);
        }
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<string>> RevokeUserAsync(string userId, CancellationToken ct)
    {
        lock (_gate)
        {
            var hits = _records.Values.Where(r => r.UserId == userId && !r.Revoked).ToList();
            foreach (var r in hits) _records[r.TokenHash] = r with { Revoked = true };
            IReadOnlyList<string> families = hits.Select(r => r.FamilyId).Distinct().ToList();
            return ValueTask.FromResult(families);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Work proportional to what is deleted, not to the records held.</remarks>
    public ValueTask<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var nowTicks = now.UtcTicks;
        var n = 0;
        lock (_gate)
        {
            while (n < batchSize && _expiries.TryPeek(out var hash, out var dueTicks) && dueTicks <= nowTicks)
            {
                _expiries.Dequeue();
                if (_records.Remove(hash)) n++;
            }
        }
        return ValueTask.FromResult(n);
    }

    private void QueueExpiry(RefreshRecord r) =>
        _expiries.Enqueue(r.TokenHash, Math.Min(r.ExpiresAt.UtcTicks, r.FamilyExpiresAt.UtcTicks));
}
