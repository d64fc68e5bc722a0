using Bouncer.Stores.Sqlite;
using Bouncer.Users;

namespace Bouncer.Stores.Tests;

/// <summary>The shared user and secret contract on a fresh database file per test, plus sharing and durability.</summary>
public sealed class SqliteUserStoreTests : UserStoreContract, IDisposable
{
    private readonly SqliteTempFolder _temp = new();

    protected override (IUserStore Users, ISecretStore Secrets) CreateStores()
    {
        var path = _temp.NewPath();
        return (_temp.Own(new SqliteUserStore(path)), _temp.Own(new SqliteSecretStore(path)));
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Update_ChangesRolesAndLockout_KeepsPasswordHashAndCreation()
    {
        var store = _temp.Own(new SqliteUserStore(_temp.NewPath()));
        var user = new UserRecord { Username = "alice", PasswordHash = "hash", CreatedAt = Clock.GetUtcNow() };
        Assert.True(await store.CreateAsync(user, default));

        var locked = Clock.GetUtcNow().AddMinutes(5);
        Assert.True(await store.UpdateAsync(user with { PasswordHash = "forged", CreatedAt = default, Roles = "admin", FailedLogins = 3, LockedUntil = locked }, default));

        Assert.Equal(user with { Roles = "admin", FailedLogins = 3, LockedUntil = locked }, await store.GetAsync("alice", default));
        Assert.False(await store.UpdateAsync(user with { Username = "nobody" }, default));
    }

    [Fact]
    public async Task Create_TakenByAnotherConnection_ReturnsFalseAndKeepsTheFirst()
    {
        var path = _temp.NewPath();
        var a = _temp.Own(new SqliteUserStore(path));
        var b = _temp.Own(new SqliteUserStore(path));

        Assert.True(await a.CreateAsync(new UserRecord { Username = "bob", PasswordHash = "first", CreatedAt = Clock.GetUtcNow() }, default));
        Assert.False(await b.CreateAsync(new UserRecord { Username = "bob", PasswordHash = "second", CreatedAt = Clock.GetUtcNow() }, default));

        Assert.Equal("first", (await b.GetAsync("bob", default))!.PasswordHash);
    }

    [Fact]
    public async Task Secrets_GetOrAdd_RacingAcrossConnections_OneValueWins()
    {
        var path = _temp.NewPath();
        var stores = Enumerable.Range(0, 3).Select(_ => _temp.Own(new SqliteSecretStore(path))).ToArray();

        var winners = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => Task.Run(async () => await stores[i % 3].GetOrAddAsync("derivation-key", "v" + i, default))));

        Assert.Single(winners.Distinct());
        Assert.Equal(winners[0], await stores[2].GetAsync("derivation-key", default));
    }

    [Fact]
    public async Task Reopen_AfterDispose_KeepsUsersAndSecrets()
    {
        var path = _temp.NewPath();
        var user = new UserRecord { Username = "carol", PasswordHash = "h", Roles = "a b", CreatedAt = Clock.GetUtcNow() };
        using (var users = new SqliteUserStore(path))
        using (var secrets = new SqliteSecretStore(path))
        {
            await users.CreateAsync(user, default);
            await secrets.SetAsync("issuer", "https://auth.example", default);
        }

        Assert.Equal(user, await _temp.Own(new SqliteUserStore(path)).GetAsync("carol", default));
        Assert.Equal("https://auth.example", await _temp.Own(new SqliteSecretStore(path)).GetAsync("issuer", default));
    }

    [Fact]
    public async Task Open_TableFromBeforeSuspended_GainsTheColumn_AndKeepsItsRows()
    {
        var path = _temp.NewPath();
        SqliteTempFolder.Scalar(path, """
            CREATE TABLE bouncer_users (username TEXT NOT NULL PRIMARY KEY, password_hash TEXT NOT NULL, roles TEXT NOT NULL,
                failed_logins INTEGER NOT NULL, locked_until INTEGER, created_at INTEGER NOT NULL) WITHOUT ROWID;
            INSERT INTO bouncer_users VALUES ('old', 'h', 'admin', 1, NULL, 1700000000000);
            """);

        // Two stores opening the old file: the first adds the column, the second finds it.
        var store = _temp.Own(new SqliteUserStore(path));
        _temp.Own(new SqliteUserStore(path));

        var old = new UserRecord { Username = "old", PasswordHash = "h", Roles = "admin", FailedLogins = 1, CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000) };
        Assert.Equal(old, await store.GetAsync("old", default));
        Assert.True(await store.UpdateAsync(old with { Suspended = true }, default));
        Assert.Equal([old with { Suspended = true }], await store.ListAsync(null, null, 10, default));
    }

    [Theory]
    [InlineData("")]
    [InlineData("users; DROP TABLE x")]
    [InlineData("1users")]
    public void Open_BadTableName_Throws(string table)
    {
        Assert.Throws<ArgumentException>(() => new SqliteUserStore(_temp.NewPath(), table));
        Assert.Throws<ArgumentException>(() => new SqliteSecretStore(_temp.NewPath(), table));
    }

    [Fact]
    public void Open_CorruptFile_ThrowsNamingThePath()
    {
        var path = _temp.NewPath();
        File.WriteAllBytes(path, Enumerable.Repeat((byte)0x5A, 8192).ToArray());

        var ex = Assert.Throws<SqliteStoreException>(() => new SqliteUserStore(path));

        Assert.Contains(path, ex.Message);
    }
}
