using Bouncer.Revocation;
using Bouncer.Sessions;

namespace Bouncer.Core.Tests.Sessions;

/// <summary>
/// The near cache as the session engine uses it: hits served from memory, and every end of a session, here or on
/// another instance (by the push), evicts.
/// </summary>
public sealed class SessionCacheTests
{
    private readonly Bouncer.Tests.ManualClock _clock = new();

    // Each instance is one server process: its own listener and cache, the shared store and channel.
    private async Task<(SessionManager Sessions, SessionCache Cache, CountingStore Shared)[]> Instances(int n, ISessionStore shared, IRevocationChannel channel,
        SessionOptions? options = null, NearCacheOptions? cacheOptions = null)
    {
        var counting = shared as CountingStore ?? new CountingStore(shared);
        var result = new (SessionManager, SessionCache, CountingStore)[n];
        for (var i = 0; i < n; i++)
        {
            var listener = new RevocationListener(channel, null, _clock);
            await listener.StartAsync(default);
            var cache = new SessionCache(listener, _clock, cacheOptions);
            result[i] = (new SessionManager(counting, channel, _clock, options, cache), cache, counting);
        }
        return result;
    }

    [Fact]
    public async Task Get_Repeated_IsServedFromMemory()
    {
        var (sessions, _, shared) = (await Instances(1, new MemorySessionStore(), new InProcessRevocationChannel()))[0];
        var (_, id) = await sessions.CreateAsync("alice", default);
        var reads = shared.Gets;

        for (var i = 0; i < 100; i++) Assert.NotNull(await sessions.GetAsync(id, default));

        Assert.Equal(reads, shared.Gets);
    }

    [Fact]
    public async Task DeleteOnOneInstance_EvictsEveryOtherCache()
    {
        var instances = await Instances(3, new MemorySessionStore(), new InProcessRevocationChannel());
        var (_, id) = await instances[0].Sessions.CreateAsync("alice", default);
        foreach (var i in instances) Assert.NotNull(await i.Sessions.GetAsync(id, default));   // warm every cache

        Assert.True(await instances[0].Sessions.DeleteAsync(id, default));

        foreach (var i in instances) Assert.Null(await i.Sessions.GetAsync(id, default));
    }

    [Fact]
    public async Task LogoutEverywhereAndRotate_OnOneInstance_AreHonouredByTheOthers()
    {
        var instances = await Instances(2, new MemorySessionStore(), new InProcessRevocationChannel());
        var (_, a) = await instances[0].Sessions.CreateAsync("alice", default);
        var (_, b) = await instances[0].Sessions.CreateAsync("alice", default);
        var (_, c) = await instances[0].Sessions.CreateAsync("bob", default);
        foreach (var id in new[] { a, b, c }) Assert.NotNull(await instances[1].Sessions.GetAsync(id, default));

        var rotated = await instances[0].Sessions.RotateAsync(c, default);
        await instances[0].Sessions.DeleteUserAsync("alice", default);

        Assert.Null(await instances[1].Sessions.GetAsync(a, default));
        Assert.Null(await instances[1].Sessions.GetAsync(b, default));
        Assert.Null(await instances[1].Sessions.GetAsync(c, default));
        Assert.NotNull(await instances[1].Sessions.GetAsync(rotated!.Value.Id, default));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AnAnnouncedSession_IsRefusedAtOnce_WhileTheStoreStillHoldsIt(bool nearCache)
    {
        // An instance that learns of a session's end by its handle before the delete reached the store (or its cache)
        // refuses it from the announcement alone, and deletes it, so the refusal outlives the announcement.
        var channel = new InProcessRevocationChannel();
        var store = new MemorySessionStore();
        var listener = new RevocationListener(channel, null, _clock);
        await listener.StartAsync(default);
        var cache = nearCache ? new SessionCache(listener, _clock) : null;
        var sessions = new SessionManager(store, channel, _clock, null, cache, revocations: listener);
        var (created, id) = await sessions.CreateAsync("alice", default);
        var (_, other) = await sessions.CreateAsync("alice", default);
        Assert.NotNull(await sessions.GetAsync(id, default));

        var now = _clock.GetUtcNow();
        await channel.PublishAsync(new RevocationRecord(RevocationKind.Session, created.Handle, now, now.AddMinutes(20)), default);

        Assert.True(SessionId.TryGetKey(id, out var key));
        Assert.NotNull(await store.GetAsync(key, default));   // nobody deleted it yet
        Assert.Null(await sessions.GetAsync(id, default));
        Assert.Null(await sessions.GetAsync(id, default));   // not put back into the cache from the store
        Assert.Null(await store.GetAsync(key, default));      // the refusing instance deleted it
        Assert.NotNull(await sessions.GetAsync(other, default));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ASignOut_RefusesTheUsersEarlierSessionsAtOnce_NotLaterOnes_NorOtherUsers(bool nearCache)
    {
        var channel = new InProcessRevocationChannel();
        var store = new MemorySessionStore();
        var listener = new RevocationListener(channel, null, _clock);
        await listener.StartAsync(default);
        var sessions = new SessionManager(store, channel, _clock, null, nearCache ? new SessionCache(listener, _clock) : null, revocations: listener);
        var (_, before) = await sessions.CreateAsync("alice", default);
        var (_, bobs) = await sessions.CreateAsync("bob", default);
        Assert.NotNull(await sessions.GetAsync(before, default));

        // Stamped 50 ms ahead of this instance's clock, as by an announcing instance whose clock runs ahead.
        var at = _clock.GetUtcNow().AddMilliseconds(50);
        await channel.PublishAsync(new RevocationRecord(RevocationKind.SignOut, "alice", at, at.AddMinutes(20)), default);

        Assert.True(SessionId.TryGetKey(before, out var key));
        Assert.NotNull(await store.GetAsync(key, default));   // nobody deleted it yet: the announcement alone refuses it
        Assert.Null(await sessions.GetAsync(before, default));
        Assert.Null(await store.GetAsync(key, default));
        Assert.NotNull(await sessions.GetAsync(bobs, default));
        // A login after the sign-out is not refused by it, though this clock is still behind its stamp.
        var (_, after) = await sessions.CreateAsync("alice", default);
        Assert.NotNull(await sessions.GetAsync(after, default));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task LogoutEverywhere_RevokesEachSessionBySid_NotOnlyByTheUserCutOff(bool nearCache)
    {
        // A hybrid token carries sid = the session handle and iat in whole seconds; minted in the same second as
        // "log out everywhere" it passes the user cut-off, so each session must be announced by handle too.
        var channel = new InProcessRevocationChannel();
        var listener = new RevocationListener(channel, null, _clock);
        await listener.StartAsync(default);
        var sessions = nearCache
            ? new SessionManager(new MemorySessionStore(), channel, _clock, null, new SessionCache(listener, _clock))
            : new SessionManager(new MemorySessionStore(), channel, _clock);
        var (first, _) = await sessions.CreateAsync("alice", default);
        var (second, _) = await sessions.CreateAsync("alice", default);
        var (other, _) = await sessions.CreateAsync("bob", default);
        long sameSecond = _clock.GetUtcNow().ToUnixTimeSeconds();

        await sessions.DeleteUserAsync("alice", default);

        Assert.True(listener.Set.IsRevoked(first.Handle, "jti-1", "alice", sameSecond));
        Assert.True(listener.Set.IsRevoked(second.Handle, "jti-2", "alice", sameSecond));
        Assert.False(listener.Set.IsRevoked(other.Handle, "jti-3", "bob", sameSecond));
        // A login after the cut-off second is not caught by it.
        var (later, _) = await sessions.CreateAsync("alice", default);
        Assert.False(listener.Set.IsRevoked(later.Handle, "jti-4", "alice", sameSecond + 1));
    }

    [Fact]
    public async Task CachedRecord_NeverOutlivesItsExpiry()
    {
        var instances = await Instances(1, new MemorySessionStore(), new InProcessRevocationChannel(),
            new SessionOptions { IdleTimeout = TimeSpan.FromMinutes(2), TouchInterval = TimeSpan.FromMinutes(1) });
        var sessions = instances[0].Sessions;
        var (_, id) = await sessions.CreateAsync("alice", default);

        _clock.Advance(TimeSpan.FromSeconds(121));

        Assert.Null(await sessions.GetAsync(id, default));
    }

    [Fact]
    public async Task Cache_StaysWithinItsBound()
    {
        var (sessions, cache, _) = (await Instances(1, new MemorySessionStore(), new InProcessRevocationChannel(), cacheOptions: new NearCacheOptions { MaxEntries = 100 }))[0];
        var ids = new List<string>();

        for (var i = 0; i < 1000; i++) ids.Add((await sessions.CreateAsync("u" + i, default)).Id);

        Assert.InRange(cache.Count, 1, 100);
        foreach (var id in ids) Assert.NotNull(await sessions.GetAsync(id, default));   // evicted ones still come from the store
    }

    [Bouncer.Tests.ReleaseFact]
    public async Task Get_CacheHit_AllocatesNothing()
    {
        var (sessions, _, _) = (await Instances(1, new MemorySessionStore(), new InProcessRevocationChannel()))[0];
        var (_, id) = await sessions.CreateAsync("alice", default);
        for (var i = 0; i < 10; i++) await sessions.GetAsync(id, default);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            var pending = sessions.GetAsync(id, default);
            Assert.True(pending.IsCompletedSuccessfully);
            Assert.NotNull(await pending);
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task DeleteThatRacesALoad_IsNotUndoneByCachingTheLoadedRecord(bool everywhere)
    {
        // Instance B reads the record from the store; before that read returns, instance A deletes the session and
        // B processes the push. B must not then cache what it read: the cookie would live on there.
        var shared = new CountingStore(new MemorySessionStore());
        var channel = new InProcessRevocationChannel();
        var instances = await Instances(2, shared, channel);
        var (_, id) = await instances[0].Sessions.CreateAsync("alice", default);

        var readDone = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        shared.AfterGet = async () => { readDone.TrySetResult(); await release.Task; };
        var load = instances[1].Sessions.GetAsync(id, default).AsTask();
        await readDone.Task;
        shared.AfterGet = null;
        if (everywhere) await instances[0].Sessions.DeleteUserAsync("alice", default);
        else Assert.True(await instances[0].Sessions.DeleteAsync(id, default));
        release.SetResult();
        Assert.NotNull(await load);   // that request was already in flight: it may still pass

        Assert.Null(await instances[1].Sessions.GetAsync(id, default));
        Assert.Null(await instances[0].Sessions.GetAsync(id, default));
    }

    [Fact]
    public async Task UnknownIdsLookedUpDuringALoad_DoNotKeepItFromBeingCached()
    {
        // Random well-formed cookies cost an attacker nothing; they must not count as evictions, or no load that
        // overlaps one would ever be cached and every request would go to the store.
        var shared = new CountingStore(new MemorySessionStore());
        var channel = new InProcessRevocationChannel();
        var instance = (await Instances(1, shared, channel))[0];
        var (_, id) = await new SessionManager(shared, channel, _clock).CreateAsync("alice", default);   // not through the cache

        var readDone = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        shared.AfterGet = async () => { readDone.TrySetResult(); await release.Task; };
        var load = instance.Sessions.GetAsync(id, default).AsTask();
        await readDone.Task;
        shared.AfterGet = null;
        for (var i = 0; i < 10; i++) Assert.Null(await instance.Sessions.GetAsync(SessionId.New().Id, default));
        release.SetResult();
        Assert.NotNull(await load);

        var reads = shared.Gets;
        Assert.NotNull(await instance.Sessions.GetAsync(id, default));
        Assert.Equal(reads, shared.Gets);
    }

    private sealed class CountingStore(ISessionStore inner) : ISessionStore
    {
        public int Gets;
        public Func<Task>? AfterGet;

        public async ValueTask<SessionRecord?> GetAsync(SessionKey key, CancellationToken ct)
        {
            Interlocked.Increment(ref Gets);
            var record = await inner.GetAsync(key, ct);
            if (AfterGet is { } gate) await gate();
            return record;
        }

        public ValueTask CreateAsync(SessionRecord record, CancellationToken ct) => inner.CreateAsync(record, ct);
        public ValueTask<bool> UpdateAsync(SessionRecord record, CancellationToken ct) => inner.UpdateAsync(record, ct);
        public ValueTask<bool> TouchAsync(SessionRecord record, CancellationToken ct) => inner.TouchAsync(record, ct);
        public ValueTask<bool> RotateAsync(SessionKey oldKey, SessionRecord next, CancellationToken ct) => inner.RotateAsync(oldKey, next, ct);
        public ValueTask<bool> DeleteAsync(SessionKey key, CancellationToken ct) => inner.DeleteAsync(key, ct);
        public ValueTask<int> DeleteUserAsync(string userId, CancellationToken ct) => inner.DeleteUserAsync(userId, ct);
        public ValueTask<IReadOnlyList<SessionRecord>> ListUserAsync(string userId, CancellationToken ct) => inner.ListUserAsync(userId, ct);
        public ValueTask<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken ct) => inner.SweepAsync(now, batchSize, ct);
    }
}
