using Bouncer.Revocation;
using Bouncer.Stores.Sqlite;

namespace Bouncer.Stores.Tests;

/// <summary>
/// The shared channel contract with every "instance" its own <see cref="SqliteRevocationChannel"/> on one
/// file, so pushes between instances travel the cross-process path (the signal file's notification, and the
/// poll behind it); plus durability and the propagation bound.
/// </summary>
public sealed class SqliteRevocationChannelTests : RevocationChannelContract, IDisposable
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    private readonly SqliteTempFolder _temp = new();

    protected override Task<IRevocationChannel[]> CreateChannelsAsync(int count)
    {
        var path = _temp.NewPath();
        return Task.FromResult(Enumerable.Range(0, count).Select(_ => (IRevocationChannel)Open(path)).ToArray());
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Publish_OnAnotherInstance_ReachesListenerByThePoll()
    {
        var path = _temp.NewPath();
        var server = Open(path);
        var cli = Open(path);   // stands for another process sharing the file
        // A folder where the signal file belongs: the publisher cannot touch it, so no notification comes.
        Directory.CreateDirectory(cli.SignalPath!);
        // The listener's own periodic replay is pushed out of reach: only the channel's poll can deliver.
        await using var listener = new RevocationListener(server, new RevocationOptions { ReplayInterval = TimeSpan.FromHours(1) }, Clock);
        await listener.StartAsync(default);

        await cli.PublishAsync(Sid("s-cli"), default);
        // Delivered by the poll (the replay is an hour away). How fast is a benchmark's question, not a test's:
        // bench/results/revocation.md measures the poll at 251 ms p50 on this machine.
        await WaitUntil(() => listener.Set.IsSessionRevoked("s-cli"), "revocation from the other instance");
        Assert.True(listener.IsConnected);
    }

    [Fact]
    public async Task Publish_OnAnotherInstance_ReachesListenerByTheSignalFile_WithoutAnyPoll()
    {
        var path = _temp.NewPath();
        // Neither the channel's poll (an hour) nor the listener's replay (an hour) can deliver within the test.
        var server = _temp.Own(new SqliteRevocationChannel(path, pollInterval: TimeSpan.FromHours(1)));
        var cli = _temp.Own(new SqliteRevocationChannel(path, pollInterval: TimeSpan.FromHours(1)));
        await using var listener = new RevocationListener(server, new RevocationOptions { ReplayInterval = TimeSpan.FromHours(1) }, Clock);
        await listener.StartAsync(default);

        await cli.PublishAsync(Sid("s-signalled"), default);
        await cli.PublishAsync(Sid("s-signalled-again"), default);

        await WaitUntil(() => listener.Set.IsSessionRevoked("s-signalled"), "revocation carried by the signal file");
        await WaitUntil(() => listener.Set.IsSessionRevoked("s-signalled-again"), "the next revocation as well");
    }

    [Fact]
    public async Task Publish_CreatesTheSignalFile_OwnerOnly_BesideTheDatabase()
    {
        var path = _temp.NewPath();
        var channel = Open(path);

        await channel.PublishAsync(Sid("s-1"), default);

        Assert.Equal(path + "-revocations", channel.SignalPath);
        Assert.True(File.Exists(channel.SignalPath));
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(channel.SignalPath));
    }

    [Fact]
    public async Task Publish_SignalFileUnwritable_StillCommitted()
    {
        var path = _temp.NewPath();
        var channel = Open(path);
        Directory.CreateDirectory(channel.SignalPath!);

        var cursor = await channel.PublishAsync(Sid("s-1"), default);

        Assert.Equal([cursor], (await Open(path).ReadAfterAsync(0, 10, default)).Select(e => e.Cursor));
    }

    [Fact]
    public async Task Publish_OnThisInstance_PushedOnceBeforeReturning_NotAgainByThePoll()
    {
        var channel = Open(_temp.NewPath());
        var subscriber = new RecordingSubscriber();
        await using var subscription = await channel.SubscribeAsync(subscriber, default);

        var cursor = await channel.PublishAsync(Sid("s-1"), default);

        Assert.Equal([cursor], subscriber.Pushed);
        await Task.Delay(Poll * 4);
        Assert.Equal([cursor], subscriber.Pushed);
        Assert.Equal(1, subscriber.Connected);
        Assert.Equal(0, subscriber.Disconnected);
    }

    [Fact]
    public async Task Subscribe_EntriesAlreadyLogged_LeftToTheReplay_NotPushed()
    {
        var path = _temp.NewPath();
        var other = Open(path);
        await other.PublishAsync(Sid("old"), default);
        var subscriber = new RecordingSubscriber();

        await using var subscription = await Open(path).SubscribeAsync(subscriber, default);
        var fresh = await other.PublishAsync(Sid("new"), default);

        await WaitUntil(() => subscriber.Pushed.Count > 0, "push of the new entry");
        await Task.Delay(Poll * 3);
        Assert.Equal([fresh], subscriber.Pushed);
        Assert.Equal(1, subscriber.Connected);
    }

    [Fact]
    public async Task Subscription_Disposed_NoMorePushes()
    {
        var path = _temp.NewPath();
        var channel = Open(path);
        var subscriber = new RecordingSubscriber();
        var subscription = await channel.SubscribeAsync(subscriber, default);

        await subscription.DisposeAsync();
        await channel.PublishAsync(Sid("s-here"), default);
        await Open(path).PublishAsync(Sid("s-there"), default);
        await Task.Delay(Poll * 3);

        Assert.Empty(subscriber.Pushed);
    }

    [Fact]
    public async Task Poll_LogUnreadable_DisconnectsThenReconnectsAndCatchesUp()
    {
        var path = _temp.NewPath();
        var channel = Open(path);
        var subscriber = new RecordingSubscriber();
        await using var subscription = await channel.SubscribeAsync(subscriber, default);

        // Renaming the table behind the channel's back makes every poll fail as a vanished log would.
        SqliteTempFolder.Scalar(path, "ALTER TABLE bouncer_revocations RENAME TO hidden");
        await WaitUntil(() => subscriber.Disconnected == 1, "OnDisconnected after a failed poll");
        SqliteTempFolder.Scalar(path, "ALTER TABLE hidden RENAME TO bouncer_revocations");
        var cursor = await Open(path).PublishAsync(Sid("s-after"), default);

        await WaitUntil(() => subscriber.Connected == 2, "OnConnected once polling works again");
        await WaitUntil(() => subscriber.Pushed.Contains(cursor), "the entry written meanwhile");
        Assert.Equal(1, subscriber.Disconnected);
    }

    [Fact]
    public async Task Reopen_AfterDispose_LogSurvives()
    {
        var path = _temp.NewPath();
        var published = new List<long>();
        await using (var first = new SqliteRevocationChannel(path))
        {
            published.Add(await first.PublishAsync(Sid("s-1"), default));
            published.Add(await first.PublishAsync(new RevocationRecord(RevocationKind.User, "alice", Clock.GetUtcNow(), Clock.GetUtcNow().AddMinutes(11)), default));
        }

        var log = await Open(path).ReadAfterAsync(0, 10, default);

        Assert.Equal(published, log.Select(e => e.Cursor));
        Assert.Equal(Sid("s-1"), log[0].Revocation);
        Assert.Equal(RevocationKind.User, log[1].Revocation.Kind);
        Assert.Equal("alice", log[1].Revocation.Subject);
    }

    [Fact]
    public async Task Prune_NewestEntries_CursorsNeverRepeat()
    {
        var channel = Open(_temp.NewPath());
        await channel.PublishAsync(Sid("a"), default);
        var last = await channel.PublishAsync(Sid("b"), default);
        Assert.Equal(2, await channel.PruneAsync(Clock.GetUtcNow().AddHours(1), default));

        var next = await channel.PublishAsync(Sid("c"), default);

        // A listener whose cursor is at the pruned "b" must still see "c".
        Assert.True(next > last);
        Assert.Equal(["c"], (await channel.ReadAfterAsync(last, 10, default)).Select(e => e.Revocation.Subject));
    }

    [Fact]
    public void Open_DefaultPollInterval_Is250Milliseconds()
    {
        var channel = _temp.Own(new SqliteRevocationChannel(_temp.NewPath()));

        Assert.Equal(TimeSpan.FromMilliseconds(250), channel.PollInterval);
    }

    [Fact]
    public void Open_NonPositivePollInterval_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SqliteRevocationChannel(_temp.NewPath(), pollInterval: TimeSpan.Zero));
    }

    private SqliteRevocationChannel Open(string path) => _temp.Own(new SqliteRevocationChannel(path, pollInterval: Poll));

    private sealed class RecordingSubscriber : IRevocationSubscriber
    {
        private readonly List<long> _pushed = [];
        private int _connected, _disconnected;

        public List<long> Pushed { get { lock (_pushed) return [.. _pushed]; } }

        public int Connected => Volatile.Read(ref _connected);

        public int Disconnected => Volatile.Read(ref _disconnected);

        public void OnPushed(RevocationEntry entry) { lock (_pushed) _pushed.Add(entry.Cursor); }

        public void OnConnected() => Interlocked.Increment(ref _connected);

        public void OnDisconnected() => Interlocked.Increment(ref _disconnected);
    }
}
