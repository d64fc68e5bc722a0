using Bouncer.Sessions;
using Bouncer.Users;

namespace Bouncer.Tests.Sessions;

/// <summary>
/// Stores written before TouchAsync, RecordFailedLoginAsync and ReplaceAsync existed still compile and get the
/// right answers from the interfaces' defaults (without the atomicity the Bouncer stores give).
/// </summary>
public sealed class LegacyStoreDefaultsTests
{
    private sealed class LegacySessionStore(ISessionStore inner) : ISessionStore
    {
        public ValueTask<SessionRecord?> GetAsync(SessionKey key, CancellationToken ct) => inner.GetAsync(key, ct);
        public ValueTask CreateAsync(SessionRecord record, CancellationToken ct) => inner.CreateAsync(record, ct);
        public ValueTask<bool> UpdateAsync(SessionRecord record, CancellationToken ct) => inner.UpdateAsync(record, ct);
        public ValueTask<bool> RotateAsync(SessionKey oldKey, SessionRecord next, CancellationToken ct) => inner.RotateAsync(oldKey, next, ct);
        public ValueTask<bool> DeleteAsync(SessionKey key, CancellationToken ct) => inner.DeleteAsync(key, ct);
        public ValueTask<int> DeleteUserAsync(string userId, CancellationToken ct) => inner.DeleteUserAsync(userId, ct);
        public ValueTask<IReadOnlyList<SessionRecord>> ListUserAsync(string userId, CancellationToken ct) => inner.ListUserAsync(userId, ct);
        public ValueTask<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken ct) => inner.SweepAsync(now, batchSize, ct);
    }

    private sealed class LegacyUserStore(IUserStore inner) : IUserStore
    {
        public ValueTask<bool> CreateAsync(UserRecord user, CancellationToken ct) => inner.CreateAsync(user, ct);
        public ValueTask<UserRecord?> GetAsync(string username, CancellationToken ct) => inner.GetAsync(username, ct);
        public ValueTask<bool> UpdateAsync(UserRecord user, CancellationToken ct) => inner.UpdateAsync(user, ct);
    }

    private sealed class LegacySecretStore(ISecretStore inner) : ISecretStore
    {
        public ValueTask<string?> GetAsync(string name, CancellationToken ct) => inner.GetAsync(name, ct);
        public ValueTask<string> GetOrAddAsync(string name, string value, CancellationToken ct) => inner.GetOrAddAsync(name, value, ct);
        public ValueTask SetAsync(string name, string value, CancellationToken ct) => inner.SetAsync(name, value, ct);
    }

    [Fact]
    public async Task Touch_Default_MovesTheTimes_AndKeepsStoredData()
    {
        ISessionStore store = new LegacySessionStore(new MemorySessionStore());
        var now = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
        var record = new SessionRecord
        {
            Key = SessionId.New().Key, UserId = "alice", Data = """{"v":1}""", CreatedAt = now, LastSeenAt = now,
            ExpiresAt = now.AddMinutes(30), AbsoluteExpiresAt = now.AddHours(8),
        };
        await store.CreateAsync(record, default);
        await store.UpdateAsync(record with { Data = """{"v":2}""" }, default);

        Assert.True(await store.TouchAsync(record with { LastSeenAt = now.AddMinutes(1), ExpiresAt = now.AddMinutes(31) }, default));
        var stored = (await store.GetAsync(record.Key, default))!;
        Assert.Equal("""{"v":2}""", stored.Data);
        Assert.Equal(now.AddMinutes(31), stored.ExpiresAt);
        Assert.False(await store.TouchAsync(record with { UserId = "mallory" }, default));
    }

    [Fact]
    public async Task RecordFailedLogin_Default_CountsAndLocks()
    {
        IUserStore store = new LegacyUserStore(new MemoryUserStore());
        var now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
        await store.CreateAsync(new UserRecord { Username = "bob", PasswordHash = "x", Roles = "", CreatedAt = now }, default);

        Assert.False(await store.RecordFailedLoginAsync("bob", 2, now.AddMinutes(5), default));
        Assert.True(await store.RecordFailedLoginAsync("bob", 2, now.AddMinutes(5), default));
        var user = (await store.GetAsync("bob", default))!;
        Assert.Equal(0, user.FailedLogins);
        Assert.Equal(now.AddMinutes(5), user.LockedUntil);
        Assert.False(await store.RecordFailedLoginAsync("nobody", 2, now, default));
    }

    [Fact]
    public async Task Replace_Default_OnlyWhileExpected()
    {
        ISecretStore store = new LegacySecretStore(new MemorySecretStore());
        Assert.False(await store.ReplaceAsync("k", "a", "b", default));
        await store.SetAsync("k", "a", default);
        Assert.False(await store.ReplaceAsync("k", "z", "b", default));
        Assert.True(await store.ReplaceAsync("k", "a", "b", default));
        Assert.Equal("b", await store.GetAsync("k", default));
    }
}
