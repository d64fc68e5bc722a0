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

    // The file holds password hashes, session digests and the signing secrets: only its owner may read it.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Open_NewFile_FileWalAndShmAreOwnerOnly(bool connectionString)
    {
        if (OperatingSystem.IsWindows()) return;
        var path = _temp.NewPath();
        await using (var stores = SqliteBouncerStores.Open(connectionString ? $"Data Source={path}" : path))
        {
            await new UserService(stores.Users, _clock).RegisterAsync("alice", "correct horse", "", default);
            await stores.Secrets.SetAsync("issuer", "https://auth.example", default);

            // While open, the WAL and the shared-memory index exist beside the file and hold recent writes.
            foreach (var file in new[] { path, path + "-wal", path + "-shm" })
            {
                Assert.True(File.Exists(file), file);
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            }
        }
    }

    [Fact]
    public async Task Open_ExistingFile_ModeLeftAsTheOperatorSetIt()
    {
        if (OperatingSystem.IsWindows()) return;
        var path = _temp.NewPath();
        const UnixFileMode groupReadable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;
        File.Create(path).Dispose();
        File.SetUnixFileMode(path, groupReadable);

        await using (var stores = SqliteBouncerStores.Open(path))
            await stores.Secrets.SetAsync("issuer", "https://auth.example", default);

        Assert.Equal(groupReadable, File.GetUnixFileMode(path));
    }

    [Fact]
    public void Open_ReadWriteModeOnMissingFile_FailsAndCreatesNothing()
    {
        var path = _temp.NewPath();

        Assert.ThrowsAny<SqliteStoreException>(() => SqliteBouncerStores.Open($"Data Source={path};Mode=ReadWrite"));
        Assert.False(File.Exists(path));
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
