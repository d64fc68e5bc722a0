using Bouncer.Revocation;
using Bouncer.Sessions;
using Bouncer.Stores.Postgres;
using Bouncer.Stores.Redis;
using Bouncer.Stores.Tests;
using Npgsql;
using StackExchange.Redis;

namespace Bouncer.Cli.Tests;

/// <summary>
/// <c>bouncer sessions</c> against real Redis and PostgreSQL, with the stores' default names (as an
/// operator would point it at a deployment): a revoke deletes in the store and is announced on the
/// deployment's revocation channel, so running servers' near caches drop the session too.
/// </summary>
public abstract class NetworkStoreCommandsTests
{
    private static readonly SessionOptions LongLived = new() { IdleTimeout = TimeSpan.FromDays(1), AbsoluteTimeout = TimeSpan.FromDays(2) };

    protected abstract string Kind { get; }
    protected abstract string Connection { get; }
    protected abstract Task<(ISessionStore Store, IRevocationChannel Channel)> OpenAsync();

    [Fact]
    public async Task ListThenRevokeUser_DeletesInTheStore_AndAnnouncesIt()
    {
        var (store, channel) = await OpenAsync();
        var sessions = new SessionManager(store, new Bouncer.Revocation.InProcessRevocationChannel(), TimeProvider.System, LongLived);
        var user = "cli-" + Guid.NewGuid().ToString("N")[..10];
        var (phone, phoneId) = await sessions.CreateAsync(user, null, "phone", default);
        await using var listener = new RevocationListener(channel);
        await listener.StartAsync(default);
        var issuedBefore = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 1;   // a token of the user from before the revoke

        var list = await Run("sessions", "list", "--user", user, "--store", Kind, "--connection", Connection);
        var revoke = await Run("sessions", "revoke", "--user", user, "--store", Kind, "--connection", Connection);

        Assert.Equal(0, list.Code);
        Assert.Contains(phone.Handle, list.Output);
        Assert.Equal(0, revoke.Code);
        Assert.Null(await sessions.GetAsync(phoneId, default));
        for (var i = 0; i < 100 && !listener.Set.IsRevoked("", "", user, issuedBefore); i++) await Task.Delay(50);
        Assert.True(listener.Set.IsRevoked("", "", user, issuedBefore), "the revoke was announced on the channel");
    }

    private static async Task<(int Code, string Output, string Error)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await Program.RunAsync(Program.BuildRoot(), args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}

[Collection(RedisCollection.Name)]
public sealed class RedisStoreCommandsTests(RedisServer redis) : NetworkStoreCommandsTests
{
    protected override string Kind => "redis";
    protected override string Connection => redis.Configuration;

    protected override async Task<(ISessionStore Store, IRevocationChannel Channel)> OpenAsync()
    {
        var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        return (new RedisSessionStore(connection), new RedisRevocationChannel(connection));
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresStoreCommandsTests(PostgresServer postgres) : NetworkStoreCommandsTests
{
    protected override string Kind => "postgres";
    protected override string Connection => postgres.ConnectionString;

    protected override async Task<(ISessionStore Store, IRevocationChannel Channel)> OpenAsync()
    {
        var source = NpgsqlDataSource.Create(postgres.ConnectionString);
        var store = new PostgresSessionStore(source);
        var channel = new PostgresRevocationChannel(source);
        await store.EnsureSchemaAsync();
        await channel.EnsureSchemaAsync();
        return (store, channel);
    }
}
