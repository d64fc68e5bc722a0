using System.Collections.Concurrent;
using Bouncer.Diagnostics;
using Bouncer.Revocation;
using Bouncer.Sessions;

namespace Bouncer.Users;

/// <summary>
/// What a session check needs to know of its user (roles, suspended, still there), at in-memory speed: accounts
/// read from the store are held per instance, and every change to an account is announced (a user cut-off), which
/// evicts it here and on every other instance. So a session never carries roles older than the propagation bound.
/// With the revocation state stale, or without a near cache, every check reads the store.
/// </summary>
public sealed class UserDirectory
{
    private readonly IUserStore _store;
    private readonly RevocationListener? _listener;
    private readonly TimeProvider _time;
    private readonly TimeSpan _hold;
    private readonly int _maxEntries;
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private long _evictions;

    /// <param name="store">The accounts.</param>
    /// <param name="listener">This instance's revocation listener; null: no caching (every read goes to the store).</param>
    /// <param name="time">The clock.</param>
    /// <param name="cache">The near cache's size and hold time; null: no caching.</param>
    public UserDirectory(IUserStore store, RevocationListener? listener, TimeProvider? time = null, NearCacheOptions? cache = null)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _time = time ?? TimeProvider.System;
        _listener = cache is null ? null : listener;
        _hold = cache?.TimeToLive ?? TimeSpan.Zero;
        _maxEntries = cache?.MaxEntries ?? 0;
        _listener?.Observe(OnRevocation);
    }

    /// <summary>The account, or null when it does not exist.</summary>
    public ValueTask<UserRecord?> GetAsync(string username, CancellationToken ct)
    {
        if (_listener is not null && _entries.TryGetValue(username, out var entry) && _time.GetUtcNow().UtcTicks < entry.FreshUntilTicks && !_listener.IsStale())
            return ValueTask.FromResult(entry.User);
        return LoadAsync(username, ct);
    }

    /// <summary>Forgets the account here (this instance changed it; the announcement tells the others).</summary>
    public void Evict(string username)
    {
        Interlocked.Increment(ref _evictions);
        _entries.TryRemove(username, out _);
    }

    private async ValueTask<UserRecord?> LoadAsync(string username, CancellationToken ct)
    {
        var before = Volatile.Read(ref _evictions);
        BouncerTrace.StoreRoundTrip();
        var user = await _store.GetAsync(username, ct).ConfigureAwait(false);
        if (_listener is null) return user;
        if (_entries.Count >= _maxEntries) _entries.Clear();   // bounded; a refill costs one read per user
        _entries[username] = new Entry(user, (_time.GetUtcNow() + _hold).UtcTicks);
        // A change announced while the read was in flight may postdate what was read: do not keep it.
        if (Volatile.Read(ref _evictions) != before) _entries.TryRemove(username, out _);
        return user;
    }

    private void OnRevocation(RevocationRecord revocation)
    {
        switch (revocation.Kind)
        {
            case RevocationKind.User or RevocationKind.SignOut:
                Evict(revocation.Subject);
                break;
            case RevocationKind.Everyone:
                Interlocked.Increment(ref _evictions);
                _entries.Clear();
                break;
        }
    }

    private sealed record Entry(UserRecord? User, long FreshUntilTicks);
}
