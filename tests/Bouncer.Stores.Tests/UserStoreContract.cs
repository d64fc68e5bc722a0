using Bouncer.Tests;
using Bouncer.Users;

namespace Bouncer.Stores.Tests;

/// <summary>What every <see cref="IUserStore"/> and <see cref="ISecretStore"/> must do, against a real server.</summary>
public abstract class UserStoreContract
{
    protected readonly ManualClock Clock = new();

    /// <summary>Fresh, empty stores isolated from every other test.</summary>
    protected abstract (IUserStore Users, ISecretStore Secrets) CreateStores();

    [Fact]
    public async Task Register_ThenLogin_Works_AndUsernameIsNormalised()
    {
        var users = new UserService(CreateStores().Users, Clock);

        Assert.Equal((UserOutcome.Ok, "alice"), await users.RegisterAsync("  Alice ", "correct horse", "admin", default));
        var (outcome, user) = await users.AuthenticateAsync("ALICE", "correct horse", default);

        Assert.Equal(UserOutcome.Ok, outcome);
        Assert.Equal("admin", user!.Roles);
        Assert.StartsWith("$argon2id$v=19$m=19456,t=2,p=1$", user.PasswordHash);
    }

    [Fact]
    public async Task Register_Taken_OneWinnerAmongRacers()
    {
        var users = new UserService(CreateStores().Users, Clock);

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () => await users.RegisterAsync("bob", "password" + Random.Shared.Next(), "", default))));

        Assert.Single(results, r => r.Outcome == UserOutcome.Ok);
        Assert.Equal(7, results.Count(r => r.Outcome == UserOutcome.Taken));
    }

    private static UserRecord NewUser(string name, DateTimeOffset now) => new()
    {
        Username = name, PasswordHash = PasswordHasher.Decoy, Roles = "", CreatedAt = now,
    };

    [Fact]
    public async Task RecordFailedLogin_CountsEachFailure_AndLocksOnTheLast()
    {
        var store = CreateStores().Users;
        var now = Clock.GetUtcNow();
        Assert.True(await store.CreateAsync(NewUser("carol", now), default));
        var until = now.AddMinutes(15);

        for (var i = 1; i < 5; i++)
        {
            Assert.False(await store.RecordFailedLoginAsync("carol", 5, until, default));
            Assert.Equal(i, (await store.GetAsync("carol", default))!.FailedLogins);
        }
        Assert.True(await store.RecordFailedLoginAsync("carol", 5, until, default));

        var locked = (await store.GetAsync("carol", default))!;
        Assert.Equal(0, locked.FailedLogins);
        Assert.Equal(until.ToUnixTimeMilliseconds(), locked.LockedUntil!.Value.ToUnixTimeMilliseconds());
        Assert.Equal(PasswordHasher.Decoy, locked.PasswordHash);   // nothing else touched
    }

    [Fact]
    public async Task RecordFailedLogin_UnknownAccount_IsFalse_AndCreatesNothing()
    {
        var store = CreateStores().Users;
        Assert.False(await store.RecordFailedLoginAsync("nobody", 1, Clock.GetUtcNow().AddMinutes(15), default));
        Assert.Null(await store.GetAsync("nobody", default));
    }

    [Fact]
    public async Task RecordFailedLogin_ParallelFailures_AreEachCounted()
    {
        // The lost-update race: parallel guesses that each read the count and wrote it back plus one counted as one.
        var store = CreateStores().Users;
        var now = Clock.GetUtcNow();
        Assert.True(await store.CreateAsync(NewUser("dave", now), default));

        var locks = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ =>
            Task.Run(async () => await store.RecordFailedLoginAsync("dave", 5, now.AddMinutes(15), default))));

        Assert.Equal(10, locks.Count(l => l));
        Assert.Equal(0, (await store.GetAsync("dave", default))!.FailedLogins);
    }

    [Fact]
    public async Task Login_WrongPasswordOrUnknownUser_AreIndistinguishable_AndLockoutEngages()
    {
        var users = new UserService(CreateStores().Users, Clock, new UserOptions { MaxFailedLogins = 3, LockoutDuration = TimeSpan.FromMinutes(5) });
        await users.RegisterAsync("carol", "right password", "", default);

        Assert.Equal(UserOutcome.InvalidCredentials, (await users.AuthenticateAsync("nobody", "x", default)).Outcome);
        Assert.Equal(UserOutcome.InvalidCredentials, (await users.AuthenticateAsync("carol", "wrong 1", default)).Outcome);
        Assert.Equal(UserOutcome.InvalidCredentials, (await users.AuthenticateAsync("carol", "wrong 2", default)).Outcome);
        Assert.Equal(UserOutcome.Locked, (await users.AuthenticateAsync("carol", "wrong 3", default)).Outcome);
        Assert.Equal(UserOutcome.Locked, (await users.AuthenticateAsync("carol", "right password", default)).Outcome);
        Clock.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(UserOutcome.Ok, (await users.AuthenticateAsync("carol", "right password", default)).Outcome);
    }

    [Theory]
    [InlineData("", "long enough pw")]
    [InlineData("has space", "long enough pw")]
    [InlineData("dave", "short")]
    [InlineData(null, "long enough pw")]
    [InlineData("dave", null)]
    public async Task Register_BadInput_IsInvalid(string? username, string? password)
    {
        var stores = CreateStores();
        var users = new UserService(stores.Users, Clock);

        Assert.Equal(UserOutcome.Invalid, (await users.RegisterAsync(username, password, "", default)).Outcome);
        Assert.Null(await stores.Users.GetAsync("dave", default));
    }

    [Fact]
    public async Task Update_RoundTripsSuspended_AndNeverTouchesHashOrCreation()
    {
        var store = CreateStores().Users;
        var now = Clock.GetUtcNow();
        var user = NewUser("frank", now) with { Roles = "user" };
        Assert.True(await store.CreateAsync(user, default));
        Assert.False((await store.GetAsync("frank", default))!.Suspended);

        var locked = now.AddMinutes(5);
        Assert.True(await store.UpdateAsync(user with { PasswordHash = "forged", CreatedAt = locked, Roles = "admin", FailedLogins = 2, LockedUntil = locked, Suspended = true }, default));
        Assert.Equal(user with { Roles = "admin", FailedLogins = 2, LockedUntil = locked, Suspended = true }, await store.GetAsync("frank", default));

        Assert.True(await store.UpdateAsync(user with { PasswordHash = "forged again", Suspended = false }, default));
        Assert.Equal(user, await store.GetAsync("frank", default));
        Assert.False(await store.UpdateAsync(NewUser("nobody", now) with { Suspended = true }, default));
        Assert.Null(await store.GetAsync("nobody", default));
    }

    [Fact]
    public async Task Create_Suspended_RoundTrips()
    {
        var store = CreateStores().Users;
        var user = NewUser("gina", Clock.GetUtcNow()) with { Suspended = true, Roles = "a b" };
        Assert.True(await store.CreateAsync(user, default));
        Assert.Equal(user, await store.GetAsync("gina", default));
        Assert.Equal([user], await store.ListAsync("gina", null, 10, default));
    }

    [Fact]
    public async Task SetPasswordHash_ReplacesOnlyTheHash_AndIsFalseWhenGone()
    {
        var store = CreateStores().Users;
        var now = Clock.GetUtcNow();
        var user = NewUser("hank", now) with { Roles = "admin", FailedLogins = 1, LockedUntil = now.AddMinutes(1), Suspended = true };
        Assert.True(await store.CreateAsync(user, default));

        Assert.True(await store.SetPasswordHashAsync("hank", "pbkdf2-sha512$new", default));
        Assert.Equal(user with { PasswordHash = "pbkdf2-sha512$new" }, await store.GetAsync("hank", default));

        Assert.False(await store.SetPasswordHashAsync("nobody", "pbkdf2-sha512$new", default));
        Assert.Null(await store.GetAsync("nobody", default));
    }

    [Fact]
    public async Task ReplacePasswordHash_OnlyOverTheExpectedHash_AndTouchesNothingElse()
    {
        var store = CreateStores().Users;
        var now = Clock.GetUtcNow();
        var user = NewUser("hilda", now) with { Roles = "admin", FailedLogins = 2, Suspended = true };
        Assert.True(await store.CreateAsync(user, default));

        Assert.False(await store.ReplacePasswordHashAsync("hilda", "pbkdf2-sha512$other", "pbkdf2-sha512$new", default));
        Assert.Equal(user, await store.GetAsync("hilda", default));
        Assert.True(await store.ReplacePasswordHashAsync("hilda", user.PasswordHash, "pbkdf2-sha512$new", default));
        Assert.Equal(user with { PasswordHash = "pbkdf2-sha512$new" }, await store.GetAsync("hilda", default));
        // The hash it expected is gone now: a second replace over it changes nothing.
        Assert.False(await store.ReplacePasswordHashAsync("hilda", user.PasswordHash, "pbkdf2-sha512$third", default));
        Assert.Equal("pbkdf2-sha512$new", (await store.GetAsync("hilda", default))!.PasswordHash);
        Assert.False(await store.ReplacePasswordHashAsync("nobody", user.PasswordHash, "pbkdf2-sha512$new", default));
        Assert.Null(await store.GetAsync("nobody", default));
    }

    [Fact]
    public async Task ClearFailedLogins_ResetsCountAndLock_AndNeverTouchesSuspensionRolesOrHash()
    {
        var store = CreateStores().Users;
        var now = Clock.GetUtcNow();
        var user = NewUser("ivan", now) with { Roles = "admin ops", FailedLogins = 3, LockedUntil = now.AddMinutes(5), Suspended = true };
        Assert.True(await store.CreateAsync(user, default));

        Assert.True(await store.ClearFailedLoginsAsync("ivan", default));

        // A login holding a stale record must not bring back what an admin changed: suspension and roles stay.
        Assert.Equal(user with { FailedLogins = 0, LockedUntil = null }, await store.GetAsync("ivan", default));
        Assert.False(await store.ClearFailedLoginsAsync("nobody", default));
        Assert.Null(await store.GetAsync("nobody", default));
    }

    [Fact]
    public async Task Delete_RemovesTheAccount_IsFalseWhenAbsent_AndTheNameCanBeTakenAgain()
    {
        var store = CreateStores().Users;
        var now = Clock.GetUtcNow();
        Assert.True(await store.CreateAsync(NewUser("ivy", now), default));
        Assert.True(await store.CreateAsync(NewUser("ivan", now), default));

        Assert.True(await store.DeleteAsync("ivy", default));
        Assert.Null(await store.GetAsync("ivy", default));
        Assert.False(await store.DeleteAsync("ivy", default));
        Assert.False(await store.DeleteAsync("nobody", default));
        Assert.False(await store.UpdateAsync(NewUser("ivy", now), default));
        Assert.False(await store.RecordFailedLoginAsync("ivy", 5, now, default));
        Assert.Equal(["ivan"], (await store.ListAsync(null, null, 10, default)).Select(u => u.Username));

        var again = NewUser("ivy", now.AddMinutes(1)) with { PasswordHash = "second" };
        Assert.True(await store.CreateAsync(again, default));
        Assert.Equal(again, await store.GetAsync("ivy", default));
        Assert.Equal(["ivan", "ivy"], (await store.ListAsync(null, null, 10, default)).Select(u => u.Username));
    }

    // LIKE (% _ \), GLOB (* ? [) and ZRANGEBYLEX ([ ( - +) metacharacters, and names that sort around them.
    private static readonly string[] ListNames =
    [
        "a", "a%", "a%b", "a_b", "axb", "ab", "abc", "a\\b", "a*", "a?b", "a[b]", "a]", "(a", "[a", "-", "+", "b", "ba", "c@example.com", "é", "ünïcode",
    ];

    private async Task<IUserStore> StoreWithListNamesAsync()
    {
        var store = CreateStores().Users;
        foreach (var name in ListNames) Assert.True(await store.CreateAsync(NewUser(name, Clock.GetUtcNow()), default));
        return store;
    }

    private static string[] Expected(string? prefix, string? after) => ListNames
        .Where(n => (prefix is null || n.StartsWith(prefix, StringComparison.Ordinal)) && (after is null || string.CompareOrdinal(n, after) > 0))
        .Order(StringComparer.Ordinal).ToArray();

    [Theory]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("a", null)]
    [InlineData("a%", null)]
    [InlineData("a_", null)]
    [InlineData("a\\", null)]
    [InlineData("a*", null)]
    [InlineData("a?", null)]
    [InlineData("a[", null)]
    [InlineData("[", null)]
    [InlineData("(", null)]
    [InlineData("-", null)]
    [InlineData("+", null)]
    [InlineData("b", null)]
    [InlineData("ü", null)]
    [InlineData("zzz", null)]
    [InlineData(null, "ab")]
    [InlineData("a", "a%b")]
    [InlineData("a", "a_b")]
    [InlineData("b", "a")]       // after sorts before the prefix: the prefix decides
    [InlineData("a", "b")]       // after sorts past every name with the prefix
    [InlineData(null, "zzz")]
    [InlineData("a", "")]
    public async Task List_OrdinalOrder_PrefixAndAfter(string? prefix, string? after)
    {
        var store = await StoreWithListNamesAsync();

        var all = await store.ListAsync(prefix, after, 1000, default);

        Assert.Equal(Expected(prefix, after), all.Select(u => u.Username));
        Assert.All(all, u => Assert.Equal(NewUser(u.Username, Clock.GetUtcNow()), u));
    }

    [Theory]
    [InlineData(null, 1)]
    [InlineData(null, 3)]
    [InlineData("a", 2)]
    [InlineData("a%", 1)]
    [InlineData("a_", 1)]
    public async Task List_PagesByTheLastName_UntilAShortPage(string? prefix, int limit)
    {
        var store = await StoreWithListNamesAsync();

        var seen = new List<string>();
        string? after = null;
        for (var pages = 0; ; pages++)
        {
            Assert.True(pages <= ListNames.Length, "paging does not end");
            var page = await store.ListAsync(prefix, after, limit, default);
            Assert.True(page.Count <= limit);
            seen.AddRange(page.Select(u => u.Username));
            if (page.Count < limit) break;
            after = page[^1].Username;
        }

        Assert.Equal(Expected(prefix, null), seen);
    }

    [Fact]
    public async Task List_Empty_AndZeroLimit()
    {
        var store = CreateStores().Users;
        Assert.Empty(await store.ListAsync(null, null, 10, default));
        Assert.True(await store.CreateAsync(NewUser("solo", Clock.GetUtcNow()), default));
        Assert.Empty(await store.ListAsync(null, null, 0, default));
        Assert.Equal(["solo"], (await store.ListAsync(null, null, 1, default)).Select(u => u.Username));
    }

    [Fact]
    public async Task Secrets_Replace_OnlyWhileTheExpectedValueIsStored_OneWinnerAmongRacers()
    {
        var secrets = CreateStores().Secrets;
        Assert.False(await secrets.ReplaceAsync("keys", "anything", "v1", default));   // never set: nothing to replace
        Assert.Null(await secrets.GetAsync("keys", default));

        await secrets.SetAsync("keys", "v1", default);
        Assert.False(await secrets.ReplaceAsync("keys", "v0", "v2", default));
        Assert.Equal("v1", await secrets.GetAsync("keys", default));
        Assert.True(await secrets.ReplaceAsync("keys", "v1", "v2", default));
        Assert.Equal("v2", await secrets.GetAsync("keys", default));

        // Eight instances that all read v2 and try to write their change: exactly one lands.
        var won = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(async () => await secrets.ReplaceAsync("keys", "v2", "w" + i, default))));
        Assert.Single(won, w => w);
        Assert.Equal("w" + Array.IndexOf(won, true), await secrets.GetAsync("keys", default));
    }

    [Fact]
    public async Task Secrets_GetOrAdd_FirstWriterWins_SetReplaces()
    {
        var secrets = CreateStores().Secrets;

        Assert.Null(await secrets.GetAsync("keys", default));
        var winners = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(async () => await secrets.GetOrAddAsync("keys", "v" + i, default))));
        Assert.Single(winners.Distinct());
        Assert.Equal(winners[0], await secrets.GetAsync("keys", default));
        await secrets.SetAsync("keys", "replaced", default);
        Assert.Equal("replaced", await secrets.GetAsync("keys", default));
        Assert.Null(await secrets.GetAsync("other", default));
    }
}

public sealed class MemoryUserStoreTests : UserStoreContract
{
    protected override (IUserStore Users, ISecretStore Secrets) CreateStores() => (new MemoryUserStore(), new MemorySecretStore());
}
