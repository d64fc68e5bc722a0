using Bouncer.Users;

namespace Bouncer.Tests.Users;

/// <summary>What a login attempt costs in store calls must not tell an existing name from an unknown one.</summary>
public sealed class LoginStoreCallsTests
{
    private sealed class CountingUserStore(IUserStore inner) : IUserStore
    {
        public readonly List<string> Calls = [];
        public ValueTask<bool> CreateAsync(UserRecord user, CancellationToken ct) => inner.CreateAsync(user, ct);
        public ValueTask<UserRecord?> GetAsync(string username, CancellationToken ct) { Calls.Add("get"); return inner.GetAsync(username, ct); }
        public ValueTask<bool> UpdateAsync(UserRecord user, CancellationToken ct) { Calls.Add("update"); return inner.UpdateAsync(user, ct); }
        public ValueTask<bool> SetPasswordHashAsync(string username, string passwordHash, CancellationToken ct) { Calls.Add("password"); return inner.SetPasswordHashAsync(username, passwordHash, ct); }
        public ValueTask<bool> DeleteAsync(string username, CancellationToken ct) { Calls.Add("delete"); return inner.DeleteAsync(username, ct); }
        public ValueTask<IReadOnlyList<UserRecord>> ListAsync(string? prefix, string? after, int limit, CancellationToken ct) => inner.ListAsync(prefix, after, limit, ct);
        public ValueTask<bool> ClearFailedLoginsAsync(string username, CancellationToken ct) { Calls.Add("clear"); return inner.ClearFailedLoginsAsync(username, ct); }
        public ValueTask<bool> ReplacePasswordHashAsync(string username, string expectedHash, string passwordHash, CancellationToken ct)
        {
            Calls.Add("password");
            return inner.ReplacePasswordHashAsync(username, expectedHash, passwordHash, ct);
        }
        public ValueTask<bool> RecordFailedLoginAsync(string username, int maxFailures, DateTimeOffset lockUntil, CancellationToken ct)
        {
            Calls.Add("failure");
            return inner.RecordFailedLoginAsync(username, maxFailures, lockUntil, ct);
        }
    }

    [Fact]
    public async Task WrongPassword_AndUnknownName_MakeTheSameStoreCalls()
    {
        var store = new CountingUserStore(new MemoryUserStore());
        var users = new UserService(store, TimeProvider.System);
        await users.RegisterAsync("alice", "correct horse", "", default);

        store.Calls.Clear();
        Assert.Equal(UserOutcome.InvalidCredentials, (await users.AuthenticateAsync("alice", "wrong password", default)).Outcome);
        var existing = store.Calls.ToList();
        store.Calls.Clear();
        Assert.Equal(UserOutcome.InvalidCredentials, (await users.AuthenticateAsync("nobody", "wrong password", default)).Outcome);

        Assert.Equal(["get", "failure"], existing);
        Assert.Equal(existing, store.Calls);
        Assert.Null(await store.GetAsync("nobody", default));   // and the unknown name was not created
    }
}
