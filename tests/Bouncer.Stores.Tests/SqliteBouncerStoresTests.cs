using Bouncer.Refresh;
using Bouncer.Revocation;
using Bouncer.Sessions;
using Bouncer.Stores.Sqlite;
using Bouncer.Tests;
using Bouncer.Users;

namespace Bouncer.Stores.Tests;

/// <summary><see cref="SqliteBouncerStores.Open"/>: five working stores on one file.</summary>
public sealed class SqliteBouncerStoresTests : IDisposable
{
    private readonly SqliteTempFolder _temp = new();
    private readonly ManualClock _clock = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Open_OneFile_EveryStoreWorksAndSharesIt()
    {
        var path = _temp.NewPath();
        await using (var stores = SqliteBouncerStores.Open(path, TimeSpan.FromMilliseconds(50)))
        {
            await new SessionManager(stores.Sessions, new Bouncer.Revocation.InProcessRevocationChannel(), _clock).CreateAsync("alice", default);
            await new UserService(stores.Users, _clock).RegisterAsync("alice", "correct horse", "", default);
            await stores.Secrets.SetAsync("issuer", "https://auth.example", default);
            var refresh = new RefreshTokenService(stores.RefreshTokens, stores.Revocations, _clock, new RefreshOptions { DerivationKey = new byte[32] });
            await refresh.IssueAsync("alice", null, default);
            await refresh.RevokeUserAsync("alice", "logout_all", default);
        }

        foreach (var table in new[] { "bouncer_sessions", "bouncer_refresh_tokens", "bouncer_users", "bouncer_secrets", "bouncer_revocations" })
            Assert.True((long)SqliteTempFolder.Scalar(path, $"SELECT count(*) FROM {table}")! > 0, table);
    }

    [Fact]
    public async Task Dispose_ThenUse_ThrowsObjectDisposed()
    {
        var stores = SqliteBouncerStores.Open(_temp.NewPath());
        await stores.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => stores.Users.GetAsync("alice", default).AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => stores.Revocations.ReadAfterAsync(0, 1, default).AsTask());
    }
}
