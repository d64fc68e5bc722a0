using Bouncer.Revocation;
using Bouncer.Stores.Postgres;
using Npgsql;

namespace Bouncer.Stores.Tests;

/// <summary>
/// The revocation-channel contract against a real PostgreSQL, each "instance" on its own data source (so
/// its own connections and its own LISTEN connection), all instances of a test sharing one fresh schema;
/// plus the faults only a real server shows: a killed LISTEN connection, and racing publishers.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresRevocationChannelTests(PostgresServer server) : RevocationChannelContract, IAsyncLifetime
{
    private readonly List<string> _schemas = [];
    private readonly List<string> _roles = [];
    private readonly List<NpgsqlDataSource> _dataSources = [];
    private readonly List<RevocationListener> _listeners = [];

    protected override async Task<IRevocationChannel[]> CreateChannelsAsync(int count)
    {
        var options = NewSchema();
        var channels = new IRevocationChannel[count];
        for (var i = 0; i < count; i++) channels[i] = new PostgresRevocationChannel(NewDataSource(server.ConnectionString), options);
        await ((PostgresRevocationChannel)channels[0]).EnsureSchemaAsync();
        return channels;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var l in _listeners) await l.DisposeAsync();
        foreach (var s in _dataSources) await s.DisposeAsync();
        foreach (var schema in _schemas) await ExecAsync($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        foreach (var role in _roles)
        {
            await ExecAsync($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'");
            await ExecAsync($"DROP ROLE IF EXISTS \"{role}\"");
        }
    }

    [Fact]
    public async Task Subscribe_ListenConnectionKilled_GapIsReplayedOnReconnect()
    {
        var publisher = (PostgresRevocationChannel)(await CreateChannelsAsync(1))[0];
        // The subscribing instance logs in as its own role, so the test can refuse its reconnects and keep
        // it down for as long as it needs, exactly as a server that is unreachable would.
        var role = await CreateReaderRoleAsync(publisher.Options.Schema);
        var connectionString = new NpgsqlConnectionStringBuilder(server.ConnectionString) { Username = role }.ConnectionString;
        var subscriberChannel = new PostgresRevocationChannel(NewDataSource(connectionString), publisher.Options);
        var listener = await StartListenerAsync(subscriberChannel);
        await publisher.PublishAsync(Sid("before"), default);
        await WaitUntil(() => listener.Set.IsSessionRevoked("before"), "push before the kill");

        await ExecAsync($"ALTER ROLE \"{role}\" CONNECTION LIMIT 0");
        Assert.Equal(1L, await ScalarAsync("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", subscriberChannel.ListenerApplicationName));
        await WaitUntil(() => !listener.IsConnected, "the listener noticing the dropped connection");
        await publisher.PublishAsync(Sid("while-down"), default);
        await Task.Delay(500);
        Assert.False(listener.IsConnected);
        Assert.False(listener.Set.IsSessionRevoked("while-down"));

        await ExecAsync($"ALTER ROLE \"{role}\" CONNECTION LIMIT -1");

        await WaitUntil(() => listener.IsConnected && listener.Set.IsSessionRevoked("while-down"), "reconnect and replay of the gap");
        Assert.Equal(RevocationVerdict.Revoked, await listener.CheckAsync("while-down", null, null, 0, default));
        // Pushes work again on the new connection.
        var last = await publisher.PublishAsync(Sid("after"), default);
        await WaitUntil(() => listener.Set.IsSessionRevoked("after") && listener.Cursor == last, "push after the reconnect");
    }

    [Fact]
    public async Task Subscribe_ServerCrashedAndRestarted_ReconnectsAndReplaysWhatWasPublishedMeanwhile()
    {
        // Its own cluster: killing the shared one would break the other tests of the collection.
        using var own = PostgresServer.StartPrivate();
        var options = NewSchema();
        var publisher = new PostgresRevocationChannel(NewDataSource(own.ConnectionString), options);
        var subscriber = new PostgresRevocationChannel(NewDataSource(own.ConnectionString), options);
        await publisher.EnsureSchemaAsync();
        var listener = await StartListenerAsync(subscriber);
        await publisher.PublishAsync(Sid("before"), default);
        await WaitUntil(() => listener.Set.IsSessionRevoked("before"), "push before the crash");

        own.Kill();
        await WaitUntil(() => !listener.IsConnected, "the listener noticing the crash");
        own.Restart();
        // The publisher's pool still holds a dead connection: its first write fails as transient (and
        // clears the pool), the retry goes through on a fresh connection.
        try
        {
            await publisher.PublishAsync(Sid("after-restart"), default);
        }
        catch (NpgsqlException e) when (e.IsTransient)
        {
            await publisher.PublishAsync(Sid("after-restart"), default);
        }

        await WaitUntil(() => listener.IsConnected && listener.Set.IsSessionRevoked("after-restart"), "reconnect after the restart");
        Assert.True(listener.Set.IsSessionRevoked("before"));
        await listener.DisposeAsync();
        _listeners.Remove(listener);
    }

    [Fact]
    public async Task Subscribe_ListenConnectionKilledAndPublishedAtOnce_ReachesEveryInstance()
    {
        var channels = (await CreateChannelsAsync(3)).Cast<PostgresRevocationChannel>().ToArray();
        var listeners = new List<RevocationListener>();
        foreach (var c in channels) listeners.Add(await StartListenerAsync(c));

        // Every LISTEN connection of the deployment dies, and a revocation is published in the same breath.
        Assert.Equal(3L, await ScalarAsync("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", channels[0].ListenerApplicationName));
        await channels[0].PublishAsync(Sid("raced"), default);

        foreach (var l in listeners)
        {
            await WaitUntil(() => l.IsConnected && l.Set.IsSessionRevoked("raced"), "reconnect and replay on every instance");
            Assert.Equal(RevocationVerdict.Revoked, await l.CheckAsync("raced", null, null, 0, default));
        }
    }

    [Fact]
    public async Task Publish_200From8TasksOn2Channels_ListenerMissesNoneAndEndsAtTheMaxCursor()
    {
        var channels = await CreateChannelsAsync(3);
        var listener = await StartListenerAsync(channels[2]);

        var cursors = new long[200];
        await Parallel.ForAsync(0, 200, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
            cursors[i] = await channels[i % 2].PublishAsync(Sid("p" + i), ct));

        var max = cursors.Max();
        await WaitUntil(() => listener.Cursor == max, "the listener's cursor reaching the last publish");
        Assert.All(Enumerable.Range(0, 200), i => Assert.True(listener.Set.IsSessionRevoked("p" + i), "p" + i));
        Assert.Equal(200, cursors.Distinct().Count());
        var log = await channels[2].ReadAfterAsync(0, 1000, default);
        Assert.Equal(cursors.Order(), log.Select(e => e.Cursor));
    }

    [Fact]
    public async Task ReadAfter_WhileAPublisherWaitsForTheLock_NeverSeesAHigherCursorFirst()
    {
        var channels = (await CreateChannelsAsync(2)).Cast<PostgresRevocationChannel>().ToArray();
        var first = await channels[0].PublishAsync(Sid("first"), default);
        // Hold the publish lock (PostgresRevocationChannel's PublishLockClass and the hash of its table's name),
        // as a publisher between its insert and its commit would.
        await using var conn = await server.DataSource.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        await using (var lk = new NpgsqlCommand(
            $"SELECT pg_advisory_xact_lock({0x42_52_45_56}, hashtext('\"{channels[0].Options.Schema}\".\"{PostgresRevocationChannel.TableName}\"'))", conn, tx))
            await lk.ExecuteNonQueryAsync();

        var blocked = channels[1].PublishAsync(Sid("second"), default).AsTask();
        await Task.Delay(300);

        Assert.False(blocked.IsCompleted, "a publish waits for the lock before it draws a cursor");
        Assert.Equal([first], (await channels[0].ReadAfterAsync(0, 10, default)).Select(e => e.Cursor));
        await tx.RollbackAsync();
        Assert.Equal(first + 1, await blocked);
    }

    [Fact]
    public async Task Subscribe_Disposed_StopsListeningOnItsConnection()
    {
        var channel = (PostgresRevocationChannel)(await CreateChannelsAsync(1))[0];
        var subscription = await channel.SubscribeAsync(new NullSubscriber(), default);
        Assert.Equal(1L, await ListenConnectionsAsync(channel));

        await subscription.DisposeAsync();

        await WaitUntil(() => ListenConnectionsAsync(channel).GetAwaiter().GetResult() == 0, "the LISTEN connection being handed back");
    }

    [Fact]
    public async Task Publish_NotifyPayloadIsTheCursor_OnTheSchemasChannel()
    {
        var channel = (PostgresRevocationChannel)(await CreateChannelsAsync(1))[0];
        await using var conn = await server.DataSource.OpenConnectionAsync();
        var payloads = new List<(string Channel, string Payload)>();
        conn.Notification += (_, e) => payloads.Add((e.Channel, e.Payload));
        await using (var listen = new NpgsqlCommand($"LISTEN \"{channel.NotifyChannel}\"", conn)) await listen.ExecuteNonQueryAsync();

        var cursor = await channel.PublishAsync(Sid("n"), default);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await conn.WaitAsync(limit.Token);
        await using (var unlisten = new NpgsqlCommand("UNLISTEN *", conn)) await unlisten.ExecuteNonQueryAsync();

        Assert.Equal([(channel.NotifyChannel, cursor.ToString(System.Globalization.CultureInfo.InvariantCulture))], payloads);
    }

    [Fact]
    public async Task Subscribe_OnAMultiplexingDataSource_ThrowsNotSupported()
    {
        var options = NewSchema();
        var channel = new PostgresRevocationChannel(NewDataSource(server.ConnectionString + ";Multiplexing=true"), options);

        await Assert.ThrowsAsync<NotSupportedException>(() => channel.SubscribeAsync(new NullSubscriber(), default).AsTask());
    }

    [Theory]
    [InlineData("Public")]
    [InlineData("x; DROP TABLE y")]
    [InlineData("")]
    public void Constructors_BadSchema_Throw(string schema)
    {
        var options = new PostgresStoreOptions { Schema = schema };

        Assert.Throws<ArgumentException>(() => new PostgresRevocationChannel(server.DataSource, options));
        Assert.Throws<ArgumentException>(() => new PostgresRefreshTokenStore(server.DataSource, options));
        Assert.Throws<ArgumentException>(() => new PostgresUserStore(server.DataSource, options));
        Assert.Throws<ArgumentException>(() => new PostgresSecretStore(server.DataSource, options));
    }

    private async Task<RevocationListener> StartListenerAsync(IRevocationChannel channel)
    {
        // No periodic replay within a test: only pushes and (re)connection replays can deliver.
        var listener = new RevocationListener(channel, new RevocationOptions { ReplayInterval = TimeSpan.FromHours(1) }, Clock);
        _listeners.Add(listener);
        await listener.StartAsync(default);
        Assert.True(listener.IsConnected);
        return listener;
    }

    private PostgresStoreOptions NewSchema()
    {
        var options = new PostgresStoreOptions { Schema = "bouncer_test_" + Guid.NewGuid().ToString("N") };
        _schemas.Add(options.Schema);
        return options;
    }

    private NpgsqlDataSource NewDataSource(string connectionString)
    {
        var dataSource = NpgsqlDataSource.Create(connectionString);
        _dataSources.Add(dataSource);
        return dataSource;
    }

    private async Task<string> CreateReaderRoleAsync(string schema)
    {
        var role = "bouncer_test_" + Guid.NewGuid().ToString("N");
        _roles.Add(role);
        await ExecAsync($"CREATE ROLE \"{role}\" LOGIN");
        await ExecAsync($"GRANT USAGE ON SCHEMA \"{schema}\" TO \"{role}\"");
        await ExecAsync($"GRANT SELECT ON \"{schema}\".\"{PostgresRevocationChannel.TableName}\" TO \"{role}\"");
        return role;
    }

    private Task<long> ListenConnectionsAsync(PostgresRevocationChannel channel) =>
        ScalarAsync("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", channel.ListenerApplicationName);

    private async Task ExecAsync(string sql)
    {
        await using var cmd = server.DataSource.CreateCommand(sql);
        await cmd.ExecuteNonQueryAsync();
    }

    private async Task<long> ScalarAsync(string sql, string parameter)
    {
        await using var cmd = server.DataSource.CreateCommand(sql);
        cmd.Parameters.AddWithValue(parameter);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    private sealed class NullSubscriber : IRevocationSubscriber
    {
        public void OnPushed(RevocationEntry entry) { }
        public void OnConnected() { }
        public void OnDisconnected() { }
    }
}
