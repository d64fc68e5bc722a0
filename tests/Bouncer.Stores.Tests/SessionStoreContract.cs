using System.Buffers.Text;
using System.Security.Cryptography;
using Bouncer.Sessions;
using Bouncer.Tests;

namespace Bouncer.Stores.Tests;

/// <summary>
/// The behaviour every <see cref="ISessionStore"/> must show, run once per backend against a real
/// server. A backend's test class inherits this and supplies an isolated store (its own key prefix,
/// table or file) per test; an override says in a comment why it differs.
/// </summary>
public abstract class SessionStoreContract
{
    protected readonly ManualClock Clock = new();

    /// <summary>A fresh, empty store isolated from every other test, using <paramref name="clock"/>.</summary>
    protected abstract ISessionStore CreateStore(TimeProvider clock);

    /// <summary>
    /// One engine instance over <paramref name="store"/>: what each server process runs. The near-cache variant gives
    /// each instance its own cache, fed by the pushes of the others.
    /// </summary>
    protected virtual SessionManager NewManager(ISessionStore store, TimeProvider clock, SessionOptions? options = null) =>
        new(store, new Bouncer.Revocation.InProcessRevocationChannel(), clock, options);

    protected SessionManager CreateManager(SessionOptions? options = null) =>
        NewManager(CreateStore(Clock), Clock, options ?? new SessionOptions
        {
            IdleTimeout = TimeSpan.FromMinutes(30),
            AbsoluteTimeout = TimeSpan.FromHours(8),
            TouchInterval = TimeSpan.FromMinutes(1),
        });

    [Fact]
    public async Task Create_ThenGet_ReturnsUserDataAndClient()
    {
        var sessions = CreateManager();
        var (created, id) = await sessions.CreateAsync("alice", """{"theme":"dark","n":1}""", "Firefox / 10.0.0.1", default);

        var found = await sessions.GetAsync(id, default);

        Assert.NotNull(found);
        Assert.Equal("alice", found.UserId);
        Assert.Equal("""{"theme":"dark","n":1}""", found.Data);
        Assert.Equal("Firefox / 10.0.0.1", found.Client);
        Assert.Equal(created.CreatedAt, found.CreatedAt);
        Assert.Equal(created.AbsoluteExpiresAt, found.AbsoluteExpiresAt);
        Assert.Equal(SessionId.Length, id.Length);
    }

    [Fact]
    public async Task Create_UnicodeUserAndData_RoundTripExactly()
    {
        var sessions = CreateManager();
        var (_, id) = await sessions.CreateAsync("zoë@例え.jp", """{"name":"Zoë 🚀","quote":"a\"b"}""", null, default);

        var found = await sessions.GetAsync(id, default);

        Assert.Equal("zoë@例え.jp", found!.UserId);
        Assert.Equal("""{"name":"Zoë 🚀","quote":"a\"b"}""", found.Data);
    }

    [Fact]
    public async Task Store_KeepsOnlyTheHashOfTheId()
    {
        var store = CreateStore(Clock);
        var sessions = NewManager(store, Clock);
        var (session, id) = await sessions.CreateAsync("alice", default);

        var idBytes = Base64Url.DecodeFromChars(id);
        var expected = new SessionKey(SHA256.HashData(idBytes));
        var record = await store.GetAsync(expected, default);

        Assert.NotNull(record);
        Assert.Equal(expected.ToString(), session.Handle);
        Assert.NotEqual(id, session.Handle);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("short")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]    // 42 chars
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]  // 44 chars
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]   // padding
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+A")]   // '+' is not base64url
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/A")]   // '/' is not base64url
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB")]   // non-zero trailing bits
    [InlineData("AAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAA")]   // whitespace
    [InlineData("ÀAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]   // non-ASCII
    [InlineData("' OR 1=1 --AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task Get_MalformedId_IsNotFound(string? id)
    {
        var sessions = CreateManager();
        await sessions.CreateAsync("alice", default);

        Assert.Null(await sessions.GetAsync(id, default));
        Assert.False(await sessions.DeleteAsync(id, default));
        Assert.Null(await sessions.RotateAsync(id, default));
    }

    [Fact]
    public async Task Get_UnknownWellFormedId_IsNotFound()
    {
        var sessions = CreateManager();
        await sessions.CreateAsync("alice", default);

        Assert.Null(await sessions.GetAsync(SessionId.New().Id, default));
    }

    [Fact]
    public async Task Get_AfterIdleTimeout_IsNotFound()
    {
        var sessions = CreateManager();
        var (_, id) = await sessions.CreateAsync("alice", default);

        Clock.Advance(TimeSpan.FromMinutes(29));
        Assert.NotNull(await sessions.GetAsync(id, default));
        Clock.Advance(TimeSpan.FromMinutes(30));

        Assert.Null(await sessions.GetAsync(id, default));
    }

    [Fact]
    public async Task Get_ActiveUse_SlidesIdleButAbsoluteTimeoutEndsIt()
    {
        var sessions = CreateManager();
        var (_, id) = await sessions.CreateAsync("alice", default);

        // Used every 20 minutes: idle never trips, but 8 hours after creation the session is over.
        for (var elapsed = TimeSpan.Zero; elapsed < TimeSpan.FromHours(8) - TimeSpan.FromMinutes(20); elapsed += TimeSpan.FromMinutes(20))
        {
            Clock.Advance(TimeSpan.FromMinutes(20));
            Assert.NotNull(await sessions.GetAsync(id, default));
        }
        Clock.Advance(TimeSpan.FromMinutes(20));

        Assert.Null(await sessions.GetAsync(id, default));
    }

    [Fact]
    public async Task Get_WithinTouchInterval_DoesNotWriteBack()
    {
        var store = CreateStore(Clock);
        var sessions = NewManager(store, Clock, new SessionOptions { TouchInterval = TimeSpan.FromMinutes(5) });
        var (created, id) = await sessions.CreateAsync("alice", default);
        SessionKey.TryParseHandle(created.Handle, out var key);

        Clock.Advance(TimeSpan.FromMinutes(4));
        await sessions.GetAsync(id, default);
        var untouched = await store.GetAsync(key, default);

        Clock.Advance(TimeSpan.FromMinutes(2));
        var renewed = await sessions.GetAsync(id, default);
        var touched = await store.GetAsync(key, default);

        Assert.Equal(created.LastSeenAt, untouched!.LastSeenAt);
        Assert.Equal(created.ExpiresAt, untouched.ExpiresAt);
        Assert.Equal(created.LastSeenAt + TimeSpan.FromMinutes(6), touched!.LastSeenAt);
        Assert.Equal(touched.LastSeenAt + TimeSpan.FromMinutes(30), touched.ExpiresAt);
        Assert.Equal(touched.ExpiresAt, renewed!.ExpiresAt);
    }

    [Fact]
    public async Task Touch_RenewsIdleDeadlineButNeverPastAbsolute()
    {
        var sessions = CreateManager(new SessionOptions { IdleTimeout = TimeSpan.FromMinutes(30), AbsoluteTimeout = TimeSpan.FromMinutes(40) });
        var (created, id) = await sessions.CreateAsync("alice", default);

        Clock.Advance(TimeSpan.FromMinutes(25));
        Assert.True(await sessions.TouchAsync(id, default));
        var found = await sessions.GetAsync(id, default);

        Assert.Equal(created.AbsoluteExpiresAt, found!.ExpiresAt);
        Clock.Advance(TimeSpan.FromMinutes(15));
        Assert.Null(await sessions.GetAsync(id, default));
        Assert.False(await sessions.TouchAsync(id, default));
    }

    [Fact]
    public async Task SetData_ReplacesData_AndRefusesBadInput()
    {
        var sessions = CreateManager();
        var (_, id) = await sessions.CreateAsync("alice", """{"a":1}""", null, default);

        Assert.True(await sessions.SetDataAsync(id, """{"a":2}""", default));
        await Assert.ThrowsAsync<SessionInputException>(() => sessions.SetDataAsync(id, "[1,2]", default).AsTask());
        await Assert.ThrowsAsync<SessionInputException>(() => sessions.SetDataAsync(id, "{not json", default).AsTask());
        await Assert.ThrowsAsync<SessionInputException>(() => sessions.SetDataAsync(id, "{\"x\":\"" + new string('x', 5000) + "\"}", default).AsTask());

        Assert.Equal("""{"a":2}""", (await sessions.GetAsync(id, default))!.Data);
    }

    [Fact]
    public async Task Rotate_NewIdKeepsData_OldIdDeadAtOnce()
    {
        var sessions = CreateManager();
        var (created, oldId) = await sessions.CreateAsync("alice", """{"cart":3}""", null, default);

        var rotated = await sessions.RotateAsync(oldId, default);

        Assert.NotNull(rotated);
        Assert.NotEqual(oldId, rotated.Value.Id);
        Assert.Null(await sessions.GetAsync(oldId, default));
        var found = await sessions.GetAsync(rotated.Value.Id, default);
        Assert.Equal("""{"cart":3}""", found!.Data);
        Assert.Equal(created.AbsoluteExpiresAt, found.AbsoluteExpiresAt);
        Assert.Single(await sessions.ListUserAsync("alice", default));
    }

    [Fact]
    public async Task Rotate_RacingRotations_ProduceOneSuccessor()
    {
        var sessions = CreateManager();
        var (_, id) = await sessions.CreateAsync("alice", default);

        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () => await sessions.RotateAsync(id, default))));

        var winners = results.Where(r => r is not null).ToList();
        Assert.Single(winners);
        Assert.Single(await sessions.ListUserAsync("alice", default));
        Assert.NotNull(await sessions.GetAsync(winners[0]!.Value.Id, default));
    }

    [Fact]
    public async Task ListUser_ReturnsOnlyThatUsersLiveSessions_NewestFirst()
    {
        var sessions = CreateManager();
        await sessions.CreateAsync("alice", null, "phone", default);
        Clock.Advance(TimeSpan.FromSeconds(1));
        await sessions.CreateAsync("alice", null, "laptop", default);
        await sessions.CreateAsync("bob", null, "bob's", default);
        Clock.Advance(TimeSpan.FromMinutes(20));
        var (_, stale) = await sessions.CreateAsync("alice", null, "tablet", default);
        Clock.Advance(TimeSpan.FromMinutes(15));   // phone and laptop idle-expired, tablet live

        var list = await sessions.ListUserAsync("alice", default);

        Assert.Equal(["tablet"], list.Select(s => s.Client));
        Assert.NotNull(await sessions.GetAsync(stale, default));
    }

    [Fact]
    public async Task DeleteUser_LogsOutEverywhere_OthersUntouched()
    {
        var sessions = CreateManager();
        var ids = new List<string>();
        for (var i = 0; i < 5; i++) ids.Add((await sessions.CreateAsync("alice", default)).Id);
        var (_, bobId) = await sessions.CreateAsync("bob", default);

        var deleted = await sessions.DeleteUserAsync("alice", default);

        Assert.Equal(5, deleted);
        foreach (var id in ids) Assert.Null(await sessions.GetAsync(id, default));
        Assert.Empty(await sessions.ListUserAsync("alice", default));
        Assert.NotNull(await sessions.GetAsync(bobId, default));
        Assert.Equal(0, await sessions.DeleteUserAsync("alice", default));
    }

    [Fact]
    public async Task DeleteUserSession_ByHandle_OnlyForItsOwner()
    {
        var sessions = CreateManager();
        var (phone, phoneId) = await sessions.CreateAsync("alice", default);
        var (_, laptopId) = await sessions.CreateAsync("alice", default);

        Assert.False(await sessions.DeleteUserSessionAsync("mallory", phone.Handle, default));
        Assert.False(await sessions.DeleteUserSessionAsync("alice", "not-a-handle", default));
        Assert.NotNull(await sessions.GetAsync(phoneId, default));
        Assert.True(await sessions.DeleteUserSessionAsync("alice", phone.Handle, default));

        Assert.Null(await sessions.GetAsync(phoneId, default));
        Assert.NotNull(await sessions.GetAsync(laptopId, default));
    }

    [Fact]
    public async Task Create_OverPerUserCap_EvictsOldest()
    {
        var sessions = CreateManager(new SessionOptions { MaxSessionsPerUser = 3 });
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await sessions.CreateAsync("alice", default)).Id);
            Clock.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(3, (await sessions.ListUserAsync("alice", default)).Count);
        Assert.Null(await sessions.GetAsync(ids[0], default));
        Assert.Null(await sessions.GetAsync(ids[1], default));
        for (var i = 2; i < 5; i++) Assert.NotNull(await sessions.GetAsync(ids[i], default));
    }

    [Fact]
    public async Task ConcurrentLogins_OnTwoInstances_ConvergeToTheCap()
    {
        // Two managers over one store stand for two server instances; all logins land in the same millisecond.
        var store = CreateStore(Clock);
        var options = new SessionOptions { MaxSessionsPerUser = 3 };
        SessionManager[] instances = [NewManager(store, Clock, options), NewManager(store, Clock, options)];
        var created = await Task.WhenAll(Enumerable.Range(0, 24).Select(i =>
            Task.Run(async () => (await instances[i % 2].CreateAsync("alice", default)).Id)));

        // At most one over the cap: the last login to trim keeps its own session even when it sorts past the cap.
        var listed = await instances[0].ListUserAsync("alice", default);
        Assert.InRange(listed.Count, 3, 4);
        var alive = 0;
        foreach (var id in created)
            if (await instances[1].GetAsync(id, default) is not null) alive++;
        Assert.Equal(listed.Count, alive);

        // The next login trims back to the cap and keeps itself.
        Clock.Advance(TimeSpan.FromSeconds(1));
        var (_, next) = await instances[0].CreateAsync("alice", default);
        Assert.Equal(3, (await instances[1].ListUserAsync("alice", default)).Count);
        Assert.NotNull(await instances[1].GetAsync(next, default));
    }

    [Fact]
    public async Task Create_OnAnInstanceWhoseClockIsBehind_NeverEvictsItsOwnNewSession()
    {
        // Instance B's clock lags A's by a second: its new session sorts oldest, yet its login must get a live id.
        var store = CreateStore(Clock);
        var options = new SessionOptions { MaxSessionsPerUser = 2 };
        var a = NewManager(store, Clock, options);
        var lagging = new OffsetClock(Clock, TimeSpan.FromSeconds(-1));
        var b = NewManager(store, lagging, options);
        await a.CreateAsync("alice", default);
        await a.CreateAsync("alice", default);

        var (_, id) = await b.CreateAsync("alice", default);

        Assert.NotNull(await a.GetAsync(id, default));
    }

    private sealed class OffsetClock(TimeProvider inner, TimeSpan offset) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow() + offset;
    }

    [Fact]
    public async Task Sweep_RemovesOnlyExpired_InBatches()
    {
        var store = CreateStore(Clock);
        var sessions = NewManager(store, Clock, new SessionOptions { SweepBatchSize = 7 });
        var doomed = new List<string>();
        for (var i = 0; i < 25; i++) doomed.Add((await sessions.CreateAsync("u" + (i % 3), default)).Id);
        Clock.Advance(TimeSpan.FromMinutes(31));
        var keep = new List<string>();
        for (var i = 0; i < 5; i++) keep.Add((await sessions.CreateAsync("u" + i, default)).Id);
        var reports = new List<long>();

        var swept = await sessions.SweepAsync(new SyncProgress(reports.Add), default);

        Assert.Equal(25, swept);
        Assert.Equal(25, reports[^1]);
        Assert.True(reports.Count >= 4, "25 rows in batches of 7 take at least four batches");
        foreach (var id in keep) Assert.NotNull(await sessions.GetAsync(id, default));
        Assert.Equal(0, await store.SweepAsync(Clock.GetUtcNow(), 100, default));
        Assert.Single(await sessions.ListUserAsync("u0", default));
    }

    [Fact]
    public async Task Sweep_FollowsRenewedExpiry_AndEndedSessionsCountForNothing()
    {
        var store = CreateStore(Clock);
        var sessions = NewManager(store, Clock, new SessionOptions
        {
            IdleTimeout = TimeSpan.FromMinutes(30), AbsoluteTimeout = TimeSpan.FromHours(8), TouchInterval = TimeSpan.FromMinutes(1),
        });
        var ids = new List<string>();
        for (var i = 0; i < 10; i++) ids.Add((await sessions.CreateAsync("u" + (i % 2), default)).Id);
        Clock.Advance(TimeSpan.FromMinutes(20));
        // 0-3 renewed (idle deadline now +50 min), 4-5 ended by logout, 6-9 left to expire at +30 min.
        for (var i = 0; i < 4; i++) Assert.True(await sessions.TouchAsync(ids[i], default));
        for (var i = 4; i < 6; i++) Assert.True(await sessions.DeleteAsync(ids[i], default));
        Clock.Advance(TimeSpan.FromMinutes(15));

        Assert.Equal(4, await sessions.SweepAsync(null, default));
        for (var i = 0; i < 10; i++) Assert.Equal(i < 4, await store.GetAsync(KeyOf(ids[i]), default) is not null);

        Clock.Advance(TimeSpan.FromMinutes(20));
        Assert.Equal(4, await sessions.SweepAsync(null, default));
        for (var i = 0; i < 4; i++) Assert.Null(await store.GetAsync(KeyOf(ids[i]), default));
        Assert.Empty(await store.ListUserAsync("u0", default));
        Assert.Equal(0, await store.SweepAsync(Clock.GetUtcNow(), 100, default));
    }

    [Fact]
    public async Task Sweep_ManyBatchesAmongLive_RemovesExactlyTheExpired()
    {
        var store = CreateStore(Clock);
        var sessions = NewManager(store, Clock, new SessionOptions
        {
            IdleTimeout = TimeSpan.FromMinutes(30), AbsoluteTimeout = TimeSpan.FromHours(8), TouchInterval = TimeSpan.FromMinutes(1),
            SweepBatchSize = 250,
        });
        var live = new List<string>();
        for (var i = 0; i < 10; i++) live.Add((await sessions.CreateAsync("live" + i, default)).Id);
        var expired = new string[1100];
        await Parallel.ForAsync(0, expired.Length, async (i, ct) => expired[i] = (await sessions.CreateAsync("old" + (i % 25), ct)).Id);
        Clock.Advance(TimeSpan.FromMinutes(20));
        // The live ones were created first, so they are first by creation and last by expiry.
        foreach (var id in live) Assert.True(await sessions.TouchAsync(id, default));
        Clock.Advance(TimeSpan.FromMinutes(15));
        var reports = new List<long>();

        var swept = await sessions.SweepAsync(new SyncProgress(reports.Add), default);

        Assert.Equal(1100, swept);
        Assert.Equal([250, 500, 750, 1000, 1100], reports);
        foreach (var id in live) Assert.NotNull(await store.GetAsync(KeyOf(id), default));
        foreach (var id in expired.Take(50)) Assert.Null(await store.GetAsync(KeyOf(id), default));
        Assert.Empty(await store.ListUserAsync("old7", default));
        Assert.Single(await store.ListUserAsync("live3", default));
    }

    private static SessionKey KeyOf(string id) => new(SHA256.HashData(Base64Url.DecodeFromChars(id)));

    [Fact]
    public async Task Sweep_UnderConcurrentReads_LiveSessionsStayReadable()
    {
        var sessions = CreateManager(new SessionOptions { SweepBatchSize = 50, TouchInterval = TimeSpan.FromHours(1), IdleTimeout = TimeSpan.FromHours(2), AbsoluteTimeout = TimeSpan.FromHours(3) });
        await Parallel.ForAsync(0, 400, async (i, ct) => await sessions.CreateAsync("old" + (i % 10), ct));
        Clock.Advance(TimeSpan.FromHours(2.5));
        var live = new List<string>();
        for (var i = 0; i < 20; i++) live.Add((await sessions.CreateAsync("live" + i, default)).Id);

        using var stop = new CancellationTokenSource();
        var misses = 0;
        var reads = 0;
        var readers = Enumerable.Range(0, 4).Select(r => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (var id in live)
                {
                    if (await sessions.GetAsync(id, default) is null) Interlocked.Increment(ref misses);
                    Interlocked.Increment(ref reads);
                }
            }
        })).ToArray();
        while (Volatile.Read(ref reads) == 0) await Task.Delay(1);
        var swept = await sessions.SweepAsync(null, default);
        stop.Cancel();
        await Task.WhenAll(readers);

        Assert.Equal(400, swept);
        Assert.Equal(0, misses);
        Assert.True(reads > 0);
    }

    [Fact]
    public async Task ConcurrentCreatesAndDeletes_FromManyTasks_LeaveExactlyTheSurvivors()
    {
        var sessions = CreateManager();
        var ids = new string[200];
        await Parallel.ForAsync(0, ids.Length, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            ids[i] = (await sessions.CreateAsync("user" + (i % 4), ct)).Id;
            if (i % 2 == 0) Assert.True(await sessions.DeleteAsync(ids[i], ct));
        });

        for (var i = 0; i < ids.Length; i++)
            Assert.Equal(i % 2 == 1, await sessions.GetAsync(ids[i], default) is not null);
        var total = 0;
        for (var u = 0; u < 4; u++) total += (await sessions.ListUserAsync("user" + u, default)).Count;
        Assert.Equal(100, total);
    }

    [Fact]
    public async Task Store_CreateWithExistingKey_Throws_AndKeepsTheOriginal()
    {
        var store = CreateStore(Clock);
        var now = DateTimeOffset.FromUnixTimeMilliseconds(Clock.GetUtcNow().ToUnixTimeMilliseconds());
        var record = new SessionRecord
        {
            Key = SessionId.New().Key, UserId = "alice", Data = """{"v":1}""", CreatedAt = now, LastSeenAt = now,
            ExpiresAt = now.AddMinutes(30), AbsoluteExpiresAt = now.AddHours(8),
        };
        await store.CreateAsync(record, default);

        await Assert.ThrowsAsync<SessionKeyCollisionException>(() => store.CreateAsync(record with { UserId = "mallory", Data = null }, default).AsTask());

        var kept = await store.GetAsync(record.Key, default);
        Assert.Equal(record, kept);
        Assert.Empty(await store.ListUserAsync("mallory", default));
    }

    [Fact]
    public async Task Store_Touch_MovesOnlyTheTimes_AndNeverWritesOldDataBack()
    {
        // Instance B renews from a copy it read before instance A changed the data: A's change must survive.
        var store = CreateStore(Clock);
        var now = DateTimeOffset.FromUnixTimeMilliseconds(Clock.GetUtcNow().ToUnixTimeMilliseconds());
        var old = new SessionRecord
        {
            Key = SessionId.New().Key, UserId = "alice", Data = """{"v":1}""", Client = "old client", CreatedAt = now,
            LastSeenAt = now, ExpiresAt = now.AddMinutes(30), AbsoluteExpiresAt = now.AddHours(8),
        };
        await store.CreateAsync(old, default);
        Assert.True(await store.UpdateAsync(old with { Data = """{"v":2}""", Client = "new client" }, default));

        var later = now.AddMinutes(2);
        Assert.True(await store.TouchAsync(old with { LastSeenAt = later, ExpiresAt = later.AddMinutes(30) }, default));

        var stored = await store.GetAsync(old.Key, default);
        Assert.NotNull(stored);
        Assert.Equal("""{"v":2}""", stored.Data?.Replace(" ", ""));
        Assert.Equal("new client", stored.Client);
        Assert.Equal(later, stored.LastSeenAt);
        Assert.Equal(later.AddMinutes(30), stored.ExpiresAt);
        Assert.Equal(now.AddHours(8), stored.AbsoluteExpiresAt);

        Assert.False(await store.TouchAsync(old with { UserId = "mallory" }, default));
        Assert.True(await store.DeleteAsync(old.Key, default));
        Assert.False(await store.TouchAsync(old with { LastSeenAt = later }, default));
        Assert.Null(await store.GetAsync(old.Key, default));
    }

    [Fact]
    public async Task Store_UpdateOfDeletedRecord_ReturnsFalse_AndDoesNotResurrect()
    {
        var store = CreateStore(Clock);
        var now = DateTimeOffset.FromUnixTimeMilliseconds(Clock.GetUtcNow().ToUnixTimeMilliseconds());
        var record = new SessionRecord
        {
            Key = SessionId.New().Key, UserId = "alice", CreatedAt = now, LastSeenAt = now,
            ExpiresAt = now.AddMinutes(30), AbsoluteExpiresAt = now.AddHours(8),
        };
        await store.CreateAsync(record, default);
        Assert.True(await store.DeleteAsync(record.Key, default));

        Assert.False(await store.UpdateAsync(record with { LastSeenAt = now.AddMinutes(1) }, default));
        Assert.Null(await store.GetAsync(record.Key, default));
        Assert.False(await store.DeleteAsync(record.Key, default));
        Assert.False(await store.RotateAsync(record.Key, record with { Key = SessionId.New().Key }, default));
        Assert.Empty(await store.ListUserAsync("alice", default));
    }

    [Fact]
    public async Task Create_BadInput_IsRefusedWithAClearError()
    {
        var sessions = CreateManager();

        await Assert.ThrowsAsync<SessionInputException>(() => sessions.CreateAsync("", default).AsTask());
        await Assert.ThrowsAsync<SessionInputException>(() => sessions.CreateAsync(new string('u', 257), default).AsTask());
        var tooBig = await Assert.ThrowsAsync<SessionInputException>(() =>
            sessions.CreateAsync("alice", "{\"x\":\"" + new string('x', 5000) + "\"}", null, default).AsTask());
        Assert.Contains("4096", tooBig.Message);
        await Assert.ThrowsAsync<SessionInputException>(() => sessions.CreateAsync("alice", "\"str\"", null, default).AsTask());
        Assert.Empty(await sessions.ListUserAsync("alice", default));
    }

    /// <summary>IProgress that reports synchronously (Progress&lt;T&gt; posts to the thread pool).</summary>
    protected sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
