using Bouncer.Users;

namespace Bouncer.Tests.Users;

/// <summary>An older hash becomes Argon2id on the account's next successful login, and only then.</summary>
public sealed class RehashOnLoginTests
{
    private static async Task<(MemoryUserStore Store, UserService Users, string Legacy)> LegacyAccountAsync(bool suspended = false)
    {
        var store = new MemoryUserStore();
        var legacy = PasswordHasherTests.Pbkdf2Hash("correct horse");
        Assert.True(await store.CreateAsync(new UserRecord
        {
            Username = "alice", PasswordHash = legacy, Roles = "admin", CreatedAt = DateTimeOffset.UnixEpoch, Suspended = suspended,
        }, default));
        return (store, new UserService(store, TimeProvider.System), legacy);
    }

    [Fact]
    public async Task Pbkdf2Account_LogsIn_AndItsHashBecomesArgon2id()
    {
        var (store, users, legacy) = await LegacyAccountAsync();

        var (outcome, user) = await users.AuthenticateAsync("alice", "correct horse", default);

        Assert.Equal(UserOutcome.Ok, outcome);
        var stored = (await store.GetAsync("alice", default))!.PasswordHash;
        Assert.NotEqual(legacy, stored);
        Assert.StartsWith("$argon2id$v=19$m=19456,t=2,p=1$", stored);
        Assert.False(PasswordHasher.NeedsRehash(stored));
        Assert.Equal(stored, user!.PasswordHash);
        Assert.Equal("admin", (await store.GetAsync("alice", default))!.Roles);   // nothing else touched

        // The new hash works, the old password still is the password, and a current hash is left alone.
        Assert.Equal(UserOutcome.Ok, (await users.AuthenticateAsync("alice", "correct horse", default)).Outcome);
        Assert.Equal(stored, (await store.GetAsync("alice", default))!.PasswordHash);
        Assert.Equal(UserOutcome.InvalidCredentials, (await users.AuthenticateAsync("alice", "wrong horse", default)).Outcome);
    }

    [Fact]
    public async Task WrongPassword_OnPbkdf2Account_FailsAndKeepsTheHash()
    {
        var (store, users, legacy) = await LegacyAccountAsync();

        Assert.Equal(UserOutcome.InvalidCredentials, (await users.AuthenticateAsync("alice", "wrong horse", default)).Outcome);

        var stored = (await store.GetAsync("alice", default))!;
        Assert.Equal(legacy, stored.PasswordHash);
        Assert.Equal(1, stored.FailedLogins);
    }

    [Fact]
    public async Task SuspendedOrLocked_RightPassword_DoesNotRehash()
    {
        var (store, users, legacy) = await LegacyAccountAsync(suspended: true);
        Assert.Equal(UserOutcome.Suspended, (await users.AuthenticateAsync("alice", "correct horse", default)).Outcome);
        Assert.Equal(legacy, (await store.GetAsync("alice", default))!.PasswordHash);

        var user = (await store.GetAsync("alice", default))!;
        await store.UpdateAsync(user with { Suspended = false, LockedUntil = DateTimeOffset.UtcNow.AddMinutes(5) }, default);
        Assert.Equal(UserOutcome.Locked, (await users.AuthenticateAsync("alice", "correct horse", default)).Outcome);
        Assert.Equal(legacy, (await store.GetAsync("alice", default))!.PasswordHash);
    }

    /// <summary>Applies <paramref name="change"/> (as a concurrent admin or password change would) right after the login's first read.</summary>
    internal sealed class ChangeAfterFirstRead(IUserStore inner, Func<IUserStore, ValueTask> change) : IUserStore
    {
        private int _reads;

        public ChangeAfterFirstRead(IUserStore inner, string changedHash)
            : this(inner, async s => await s.SetPasswordHashAsync("alice", changedHash, default))
        {
        }

        public ValueTask<bool> CreateAsync(UserRecord user, CancellationToken ct) => inner.CreateAsync(user, ct);
        public async ValueTask<UserRecord?> GetAsync(string username, CancellationToken ct)
        {
            var user = await inner.GetAsync(username, ct);
            if (Interlocked.Increment(ref _reads) == 1) await change(inner);
            return user;
        }
        public ValueTask<bool> ClearFailedLoginsAsync(string username, CancellationToken ct) => inner.ClearFailedLoginsAsync(username, ct);
        public ValueTask<bool> ReplacePasswordHashAsync(string username, string expectedHash, string passwordHash, CancellationToken ct) =>
            inner.ReplacePasswordHashAsync(username, expectedHash, passwordHash, ct);
        public ValueTask<bool> UpdateAsync(UserRecord user, CancellationToken ct) => inner.UpdateAsync(user, ct);
        public ValueTask<bool> SetPasswordHashAsync(string username, string passwordHash, CancellationToken ct) => inner.SetPasswordHashAsync(username, passwordHash, ct);
        public ValueTask<bool> DeleteAsync(string username, CancellationToken ct) => inner.DeleteAsync(username, ct);
        public ValueTask<IReadOnlyList<UserRecord>> ListAsync(string? prefix, string? after, int limit, CancellationToken ct) => inner.ListAsync(prefix, after, limit, ct);
        public ValueTask<bool> RecordFailedLoginAsync(string username, int maxFailures, DateTimeOffset lockUntil, CancellationToken ct) =>
            inner.RecordFailedLoginAsync(username, maxFailures, lockUntil, ct);
    }

    [Fact]
    public async Task PasswordChangedDuringTheLogin_IsNotUndoneByTheRehash()
    {
        var inner = new MemoryUserStore();
        await inner.CreateAsync(new UserRecord { Username = "alice", PasswordHash = PasswordHasherTests.Pbkdf2Hash("old password"), CreatedAt = DateTimeOffset.UnixEpoch }, default);
        var changed = PasswordHasher.Hash("new password");
        var users = new UserService(new ChangeAfterFirstRead(inner, changed), TimeProvider.System);

        // Checked against the old hash, but the account's password changed before the login finished: a password change
        // exists to shut out whoever knows the old one, so the old password opens nothing (it used to return Ok here).
        Assert.Equal(UserOutcome.InvalidCredentials, (await users.AuthenticateAsync("alice", "old password", default)).Outcome);

        Assert.Equal(changed, (await inner.GetAsync("alice", default))!.PasswordHash);
    }

    [Fact]
    public async Task SuspendedDuringTheLogin_IsRefused_AndTheSuspensionStays()
    {
        var inner = new MemoryUserStore();
        await inner.CreateAsync(new UserRecord
        {
            Username = "alice", PasswordHash = PasswordHasher.Hash("correct horse"), Roles = "admin", FailedLogins = 1, CreatedAt = DateTimeOffset.UnixEpoch,
        }, default);
        // An admin suspends the account and removes its role while the login hashes the password.
        var users = new UserService(new ChangeAfterFirstRead(inner, async s =>
        {
            var user = (await s.GetAsync("alice", default))!;
            await s.UpdateAsync(user with { Suspended = true, Roles = "" }, default);
        }), TimeProvider.System);

        Assert.Equal(UserOutcome.Suspended, (await users.AuthenticateAsync("alice", "correct horse", default)).Outcome);

        var stored = (await inner.GetAsync("alice", default))!;
        Assert.True(stored.Suspended);          // the login's stale record (not suspended, admin) was not written back
        Assert.Equal("", stored.Roles);
        Assert.Equal(0, stored.FailedLogins);   // while its right password still cleared the failure count
    }

    [Fact]
    public async Task RolesChangedDuringTheLogin_TheLoginCarriesTheNewRoles()
    {
        var inner = new MemoryUserStore();
        await inner.CreateAsync(new UserRecord { Username = "alice", PasswordHash = PasswordHasher.Hash("correct horse"), Roles = "admin", CreatedAt = DateTimeOffset.UnixEpoch }, default);
        var users = new UserService(new ChangeAfterFirstRead(inner, async s =>
        {
            var user = (await s.GetAsync("alice", default))!;
            await s.UpdateAsync(user with { Roles = "viewer" }, default);
        }), TimeProvider.System);

        var (outcome, user) = await users.AuthenticateAsync("alice", "correct horse", default);

        Assert.Equal(UserOutcome.Ok, outcome);
        Assert.Equal("viewer", user!.Roles);
        Assert.Equal("viewer", (await inner.GetAsync("alice", default))!.Roles);
    }

    [Fact]
    public async Task Register_StoresArgon2id()
    {
        var store = new MemoryUserStore();
        await new UserService(store, TimeProvider.System).RegisterAsync("bob", "correct horse", "", default);
        Assert.StartsWith("$argon2id$v=19$m=19456,t=2,p=1$", (await store.GetAsync("bob", default))!.PasswordHash);
    }
}
