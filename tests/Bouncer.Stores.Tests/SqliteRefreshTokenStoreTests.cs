using System.Text;
using Bouncer.Refresh;
using Bouncer.Stores.Sqlite;

namespace Bouncer.Stores.Tests;

/// <summary>The shared refresh-store contract on a fresh database file per test, plus what only a file can get wrong.</summary>
public sealed class SqliteRefreshTokenStoreTests : RefreshStoreContract, IDisposable
{
    private readonly SqliteTempFolder _temp = new();

    protected override IRefreshTokenStore CreateStore() => Open(_temp.NewPath());

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Issue_FileHoldsOnlyTheHash_NeverTheToken()
    {
        var path = _temp.NewPath();
        var service = CreateService(Open(path));
        var login = await service.IssueAsync("alice", null, default);
        var record = await service.FindAsync(login.RefreshToken, default);

        var stored = SqliteTempFolder.Scalar(path, "SELECT token_hash FROM bouncer_refresh_tokens");

        Assert.Equal(record!.TokenHash, stored);
        Assert.NotEqual(login.RefreshToken, stored);
        Assert.Equal(-1, _temp.ReadDisk().AsSpan().IndexOf(Encoding.ASCII.GetBytes(login.RefreshToken!)));
    }

    [Fact]
    public async Task Create_DuplicateHash_ThrowsInvalidOperation()
    {
        var store = Open(_temp.NewPath());
        var record = Record("h1", "f1");
        await store.CreateAsync(record, default);

        await Assert.ThrowsAsync<InvalidOperationException>(() => store.CreateAsync(record with { FamilyId = "f2" }, default).AsTask());
        Assert.Equal("f1", (await store.GetAsync("h1", default))!.FamilyId);
    }

    [Fact]
    public async Task Rotate_RacingFromTwoConnectionsOnOneFile_ExactlyOneWins()
    {
        var path = _temp.NewPath();
        // Separate objects have separate writer connections: they contend for the file lock like processes.
        var stores = new[] { Open(path), Open(path), Open(path) };
        await stores[0].CreateAsync(Record("current", "f"), default);
        var now = Clock.GetUtcNow();

        var results = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => Task.Run(async () =>
            await stores[i % 3].RotateAsync("current", now, Record("next" + i, "f") with { Generation = 1 }, default))));

        Assert.Single(results, r => r);
        var winner = Array.IndexOf(results, true);
        Assert.NotNull(await stores[1].GetAsync("next" + winner, default));
        Assert.Equal(2L, SqliteTempFolder.Scalar(path, "SELECT count(*) FROM bouncer_refresh_tokens"));
    }

    [Fact]
    public async Task Rotate_SuccessorHashTaken_ChangesNothing()
    {
        var store = Open(_temp.NewPath());
        await store.CreateAsync(Record("current", "f"), default);
        await store.CreateAsync(Record("taken", "other"), default);

        Assert.False(await store.RotateAsync("current", Clock.GetUtcNow(), Record("taken", "f"), default));

        Assert.Null((await store.GetAsync("current", default))!.RotatedAt);
        Assert.Equal("other", (await store.GetAsync("taken", default))!.FamilyId);
    }

    [Fact]
    public async Task RevokeUser_ReportsEachLiveFamilyOnce_AndRevokedRowsRoundTrip()
    {
        var store = Open(_temp.NewPath());
        await store.CreateAsync(Record("a1", "fa"), default);
        await store.CreateAsync(Record("a2", "fa") with { Generation = 1 }, default);
        await store.CreateAsync(Record("b1", "fb") with { Scope = "admin" }, default);
        await store.CreateAsync(Record("c1", "fc") with { UserId = "bob" }, default);

        Assert.Equal(["fa", "fb"], (await store.RevokeUserAsync("alice", default)).Order());
        Assert.Empty(await store.RevokeUserAsync("alice", default));

        var b1 = (await store.GetAsync("b1", default))!;
        Assert.True(b1.Revoked);
        Assert.Equal("admin", b1.Scope);
        Assert.False((await store.GetAsync("c1", default))!.Revoked);
        Assert.Equal(1, await store.RevokeFamilyAsync("fc", default));
    }

    [Fact]
    public async Task Reopen_AfterDispose_KeepsTokens()
    {
        var path = _temp.NewPath();
        var record = Record("h", "f") with { Scope = "read", RotatedAt = Clock.GetUtcNow() };
        using (var first = new SqliteRefreshTokenStore(path))
            await first.CreateAsync(record, default);

        Assert.Equal(record, await Open(path).GetAsync("h", default));
    }

    [Fact]
    public async Task Dispose_ThenUse_ThrowsObjectDisposed()
    {
        var store = Open(_temp.NewPath());
        store.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.GetAsync("h", default).AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.CreateAsync(Record("h", "f"), default).AsTask());
    }

    [Fact]
    public async Task Open_TableWithoutAuthTime_AddsTheColumn_OldRowsReadIssuedAt()
    {
        var path = _temp.NewPath();
        // The table as versions before auth_time created it, with one row.
        SqliteTempFolder.Scalar(path, """
            CREATE TABLE bouncer_refresh_tokens (token_hash TEXT NOT NULL PRIMARY KEY, family_id TEXT NOT NULL, user_id TEXT NOT NULL,
                generation INTEGER NOT NULL, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, family_expires_at INTEGER NOT NULL,
                rotated_at INTEGER, scope TEXT, revoked INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID
            """);
        var issued = Clock.GetUtcNow();
        SqliteTempFolder.Scalar(path, $"INSERT INTO bouncer_refresh_tokens VALUES ('old', 'f', 'alice', 4, {issued.ToUnixTimeMilliseconds()}, "
            + $"{issued.AddDays(1).ToUnixTimeMilliseconds()}, {issued.AddDays(2).ToUnixTimeMilliseconds()}, NULL, NULL, 0)");

        var store = Open(path);
        var reopened = Open(path);   // a second open finds the column and leaves it

        Assert.Equal(1L, SqliteTempFolder.Scalar(path, "SELECT count(*) FROM pragma_table_info('bouncer_refresh_tokens') WHERE name = 'auth_time'"));
        var old = await reopened.GetAsync("old", default);
        Assert.Equal((4, issued), (old!.Generation, old.AuthTime));
        var proved = issued.AddHours(-1);
        Assert.True(await store.RotateAsync("old", issued, old with { TokenHash = "new", Generation = 5, AuthTime = proved }, default));
        Assert.Equal(proved, (await reopened.GetAsync("new", default))!.AuthTime);
    }

    [Fact]
    public async Task Open_TableWithoutDpopJkt_AddsTheColumn_OldRowsAreUnbound()
    {
        var path = _temp.NewPath();
        // The table as versions before DPoP created it (auth_time already there), with one row.
        SqliteTempFolder.Scalar(path, """
            CREATE TABLE bouncer_refresh_tokens (token_hash TEXT NOT NULL PRIMARY KEY, family_id TEXT NOT NULL, user_id TEXT NOT NULL,
                generation INTEGER NOT NULL, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, family_expires_at INTEGER NOT NULL,
                rotated_at INTEGER, scope TEXT, revoked INTEGER NOT NULL DEFAULT 0, auth_time INTEGER) WITHOUT ROWID
            """);
        var issued = Clock.GetUtcNow();
        SqliteTempFolder.Scalar(path, $"INSERT INTO bouncer_refresh_tokens VALUES ('old', 'f', 'alice', 2, {issued.ToUnixTimeMilliseconds()}, "
            + $"{issued.AddDays(1).ToUnixTimeMilliseconds()}, {issued.AddDays(2).ToUnixTimeMilliseconds()}, NULL, NULL, 0, {issued.ToUnixTimeMilliseconds()})");

        var store = Open(path);
        var reopened = Open(path);

        Assert.Equal(1L, SqliteTempFolder.Scalar(path, "SELECT count(*) FROM pragma_table_info('bouncer_refresh_tokens') WHERE name = 'dpop_jkt'"));
        var old = await reopened.GetAsync("old", default);
        Assert.Equal((2, (string?)null), (old!.Generation, old.DpopJkt));
        Assert.True(await store.RotateAsync("old", issued, old with { TokenHash = "new", Generation = 3, DpopJkt = "bound-key" }, default));
        Assert.Equal("bound-key", (await reopened.GetAsync("new", default))!.DpopJkt);
    }

    private SqliteRefreshTokenStore Open(string path) => _temp.Own(new SqliteRefreshTokenStore(path));

    private RefreshRecord Record(string hash, string family) => new()
    {
        TokenHash = hash,
        FamilyId = family,
        UserId = "alice",
        Generation = 0,
        IssuedAt = Clock.GetUtcNow(),
        ExpiresAt = Clock.GetUtcNow().AddHours(1),
        FamilyExpiresAt = Clock.GetUtcNow().AddDays(1),
    };
}
