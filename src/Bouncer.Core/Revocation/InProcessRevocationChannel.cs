namespace Bouncer.Revocation;

/// <summary>
/// The single-process transport: the log is a list in memory, the push a direct call. For one
/// instance, and for tests. Thread-safe.
/// </summary>
public sealed class InProcessRevocationChannel : IRevocationChannel
{
    private readonly List<RevocationEntry> _log = [];
    private readonly List<IRevocationSubscriber> _subscribers = [];
    private readonly Lock _gate = new();
    private long _cursor;

    /// <inheritdoc/>
    public ValueTask<long> PublishAsync(RevocationRecord revocation, CancellationToken ct)
    {
        RevocationEntry entry;
        IRevocationSubscriber[] targets;
        lock (_gate)
        {
            entry = new RevocationEntry(++_cursor, revocation);
            _log.Add(entry);
            targets = [.. _subscribers];
        }
        foreach (var s in targets) s.OnPushed(entry);
        return ValueTask.FromResult(entry.Cursor);
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<RevocationEntry>> ReadAfterAsync(long cursor, int max, CancellationToken ct)
    {
        lock (_gate)
        {
            // Cursors are dense except where pruned: binary search on the ordered list.
            var lo = 0;
            var hi = _log.Count;
            while (lo < hi)
            {
                var mid = (lo + hi) / 2;
                if (_log[mid].Cursor <= cursor) lo = mid + 1; else hi = mid;
            }
            IReadOnlyList<RevocationEntry> page = _log.GetRange(lo, Math.Min(max, _log.Count - lo));
            return ValueTask.FromResult(page);
        }
    }

    /// <inheritdoc/>
    public ValueTask<IAsyncDisposable> SubscribeAsync(IRevocationSubscriber subscriber, CancellationToken ct)
    {
        lock (_gate) _subscribers.Add(subscriber);
        subscriber.OnConnected();
        return ValueTask.FromResult<IAsyncDisposable>(new Subscription(this, subscriber));
    }

    /// <inheritdoc/>
    public ValueTask<int> PruneAsync(DateTimeOffset now, CancellationToken ct)
    {
        lock (_gate) return ValueTask.FromResult(_log.RemoveAll(e => e.Revocation.ExpiresAt <= now));
    }

    private sealed class Subscription(InProcessRevocationChannel channel, IRevocationSubscriber subscriber) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            lock (channel._gate) channel._subscribers.Remove(subscriber);
            return ValueTask.CompletedTask;
        }
    }
}
