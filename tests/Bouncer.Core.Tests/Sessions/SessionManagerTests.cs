using Bouncer.Sessions;
using Bouncer.Tests;

namespace Bouncer.Core.Tests.Sessions;

public sealed class SessionManagerTests
{
    [Theory]
    [InlineData("")]
    [InlineData("tooshort")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    public async Task Get_MalformedId_NeverReachesTheStore(string id)
    {
        var store = new CountingStore();
        var sessions = new SessionManager(store, new Bouncer.Revocation.InProcessRevocationChannel(), new ManualClock());

        Assert.Null(await sessions.GetAsync(id, default));
        Assert.False(await sessions.DeleteAsync(id, default));
        Assert.False(await sessions.TouchAsync(id, default));

        Assert.Equal(0, store.Calls);
    }

    [Fact]
    public void NewId_Is43CharsOfBase64Url_AndUnique()
    {
        var ids = Enumerable.Range(0, 1000).Select(_ => SessionId.New().Id).ToHashSet();

        Assert.Equal(1000, ids.Count);
        Assert.All(ids, id =>
        {
            Assert.Equal(43, id.Length);
            Assert.Matches("^[A-Za-z0-9_-]{43}$", id);
            Assert.True(SessionId.TryGetKey(id, out _));
        });
    }

    [Fact]
    public void Key_IsTheSha256OfTheDecodedId_AndHandleRoundTrips()
    {
        var (id, key) = SessionId.New();

        Assert.True(SessionId.TryGetKey(id, out var derived));
        Assert.Equal(key, derived);
        Assert.True(SessionKey.TryParseHandle(key.ToString(), out var parsed));
        Assert.Equal(key, parsed);
        // The public handle is not a session id: it hashes to a different key.
        Assert.True(SessionId.TryGetKey(key.ToString(), out var rehashed));
        Assert.NotEqual(key, rehashed);
    }

    [Fact]
    public void Options_OutOfRange_AreRefusedAtConstruction()
    {
        var store = new MemorySessionStore();

        Assert.Throws<ArgumentOutOfRangeException>(() => new SessionManager(store, new Bouncer.Revocation.InProcessRevocationChannel(), null, new SessionOptions { IdleTimeout = TimeSpan.Zero }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SessionManager(store, new Bouncer.Revocation.InProcessRevocationChannel(), null, new SessionOptions { AbsoluteTimeout = TimeSpan.FromMinutes(1) }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SessionManager(store, new Bouncer.Revocation.InProcessRevocationChannel(), null, new SessionOptions { MaxSessionsPerUser = 0 }));
    }

    [Fact]
    public async Task Sweeper_RunsOnItsIntervalUntilStopped()
    {
        var clock = new ManualClock();
        var store = new MemorySessionStore();
        var sessions = new SessionManager(store, new Bouncer.Revocation.InProcessRevocationChannel(), clock, new SessionOptions { SweepInterval = TimeSpan.FromMinutes(5) });
        await sessions.CreateAsync("alice", default);
        clock.Advance(TimeSpan.FromHours(1));
        using var sweeper = new SessionSweeper(sessions, clock);

        await sweeper.StartAsync(default);
        // The first sweep runs at start; the expired session is gone without anyone reading it.
        for (var i = 0; i < 100 && store.Count > 0; i++) await Task.Delay(10);
        await sweeper.StopAsync(default);

        Assert.Equal(0, store.Count);
    }

    private sealed class CountingStore : ISessionStore
    {
        private readonly MemorySessionStore _inner = new();
        public int Calls;

        public ValueTask<SessionRecord?> GetAsync(SessionKey key, CancellationToken ct) { Calls++; return _inner.GetAsync(key, ct); }
        public ValueTask CreateAsync(SessionRecord record, CancellationToken ct) { Calls++; return _inner.CreateAsync(record, ct); }
        public ValueTask<bool> UpdateAsync(SessionRecord record, CancellationToken ct) { Calls++; return _inner.UpdateAsync(record, ct); }
        public ValueTask<bool> TouchAsync(SessionRecord record, CancellationToken ct) { Calls++; return _inner.TouchAsync(record, ct); }
        public ValueTask<bool> RotateAsync(SessionKey oldKey, SessionRecord next, CancellationToken ct) { Calls++; return _inner.RotateAsync(oldKey, next, ct); }
        public ValueTask<bool> DeleteAsync(SessionKey key, CancellationToken ct) { Calls++; return _inner.DeleteAsync(key, ct); }
        public ValueTask<int> DeleteUserAsync(string userId, CancellationToken ct) { Calls++; return _inner.DeleteUserAsync(userId, ct); }
        public ValueTask<IReadOnlyList<SessionRecord>> ListUserAsync(string userId, CancellationToken ct) { Calls++; return _inner.ListUserAsync(userId, ct); }
        public ValueTask<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken ct) { Calls++; return _inner.SweepAsync(now, batchSize, ct); }
    }
}
