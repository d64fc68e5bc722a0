using Bouncer.Revocation;
using Bouncer.Tests;

namespace Bouncer.Core.Tests.Revocation;

public sealed class RevocationListenerTests
{
    private readonly ManualClock _clock = new();

    private RevocationRecord Sid(string sid) => new(RevocationKind.Session, sid, _clock.GetUtcNow(), _clock.GetUtcNow().AddMinutes(11));

    [Fact]
    public async Task Publish_OnOneInstance_IsRefusedOnTheOthersAtOnce()
    {
        var channel = new InProcessRevocationChannel();
        await using var a = new RevocationListener(channel, null, _clock);
        await using var b = new RevocationListener(channel, null, _clock);
        await a.StartAsync(default);
        await b.StartAsync(default);

        await channel.PublishAsync(Sid("s1"), default);

        Assert.Equal(RevocationVerdict.Revoked, await a.CheckAsync("s1", "j", "alice", 0, default));
        Assert.Equal(RevocationVerdict.Revoked, await b.CheckAsync("s1", "j", "alice", 0, default));
        Assert.Equal(RevocationVerdict.Allowed, await b.CheckAsync("s2", "j", "alice", 0, default));
    }

    [Fact]
    public async Task Start_ReplaysWhatWasPublishedBefore()
    {
        var channel = new InProcessRevocationChannel();
        await channel.PublishAsync(Sid("early"), default);
        await using var late = new RevocationListener(channel, null, _clock);

        await late.StartAsync(default);

        Assert.Equal(RevocationVerdict.Revoked, await late.CheckAsync("early", null, null, 0, default));
        Assert.Equal(1, late.Cursor);
    }

    [Fact]
    public async Task PushLostWhileDisconnected_IsReplayedOnReconnect()
    {
        var channel = new FlakyChannel(new InProcessRevocationChannel());
        await using var listener = new RevocationListener(channel, null, _clock);
        await listener.StartAsync(default);
        // The on-connect replay runs in the background: let it finish first, or on a loaded machine it reads the
        // entry published below and the "still allowed while down" step races it.
        await WaitUntil(() => channel.Reads >= 2);

        channel.Disconnect();
        await channel.PublishAsync(Sid("while-down"), default);
        Assert.Equal(RevocationVerdict.Allowed, await listener.CheckAsync("while-down", null, null, 0, default));
        channel.Reconnect();

        await WaitUntil(() => listener.Set.IsSessionRevoked("while-down"));
        Assert.Equal(RevocationVerdict.Revoked, await listener.CheckAsync("while-down", null, null, 0, default));
    }

    [Fact]
    public async Task Stale_WithRefusePolicy_RefusesWithStale()
    {
        var channel = new FlakyChannel(new InProcessRevocationChannel());
        await using var listener = new RevocationListener(channel, new RevocationOptions { StaleAfter = TimeSpan.FromSeconds(5), Policy = StalenessPolicy.Refuse }, _clock);
        await listener.StartAsync(default);
        await WaitUntil(() => channel.Reads >= 2);   // the start-up replay and the on-connect replay
        var readsBefore = channel.Reads;

        channel.Disconnect();
        _clock.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(RevocationVerdict.Allowed, await listener.CheckAsync("s", null, null, 0, default));
        _clock.Advance(TimeSpan.FromSeconds(2));

        Assert.True(listener.IsStale());
        Assert.Equal(RevocationVerdict.Stale, await listener.CheckAsync("s", null, null, 0, default));
        Assert.Equal(readsBefore, channel.Reads);  // refusing never touches the store
    }

    [Fact]
    public async Task Stale_WithFallbackPolicy_ReadsTheStorePerCheck()
    {
        var channel = new FlakyChannel(new InProcessRevocationChannel());
        await using var listener = new RevocationListener(channel, new RevocationOptions { StaleAfter = TimeSpan.FromSeconds(5) }, _clock);
        await listener.StartAsync(default);
        var readsAtStart = channel.Reads;

        channel.Disconnect();
        _clock.Advance(TimeSpan.FromSeconds(6));
        await channel.PublishAsync(Sid("revoked-while-stale"), default);

        Assert.Equal(RevocationVerdict.Revoked, await listener.CheckAsync("revoked-while-stale", null, null, 0, default));
        Assert.Equal(RevocationVerdict.Allowed, await listener.CheckAsync("fine", null, null, 0, default));
        Assert.True(channel.Reads >= readsAtStart + 2);

        channel.FailReads = true;
        Assert.Equal(RevocationVerdict.Stale, await listener.CheckAsync("fine", null, null, 0, default));
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition(), "condition not met within 5 s");
    }

    /// <summary>Wraps a real channel and drops its pushes while "disconnected", as a broken socket would.</summary>
    private sealed class FlakyChannel(IRevocationChannel inner) : IRevocationChannel, IRevocationSubscriber
    {
        private IRevocationSubscriber? _subscriber;
        private volatile bool _down;
        public int Reads;
        public bool FailReads;

        public void Disconnect() { _down = true; _subscriber?.OnDisconnected(); }
        public void Reconnect() { _down = false; _subscriber?.OnConnected(); }

        public ValueTask<long> PublishAsync(RevocationRecord revocation, CancellationToken ct) => inner.PublishAsync(revocation, ct);

        public ValueTask<IReadOnlyList<RevocationEntry>> ReadAfterAsync(long cursor, int max, CancellationToken ct)
        {
            Interlocked.Increment(ref Reads);
            if (FailReads) throw new IOException("store unreachable");
            return inner.ReadAfterAsync(cursor, max, ct);
        }

        public async ValueTask<IAsyncDisposable> SubscribeAsync(IRevocationSubscriber subscriber, CancellationToken ct)
        {
            _subscriber = subscriber;
            return await inner.SubscribeAsync(this, ct);
        }

        public ValueTask<int> PruneAsync(DateTimeOffset now, CancellationToken ct) => inner.PruneAsync(now, ct);

        void IRevocationSubscriber.OnPushed(RevocationEntry entry) { if (!_down) _subscriber!.OnPushed(entry); }
        void IRevocationSubscriber.OnConnected() { if (!_down) _subscriber!.OnConnected(); }
        void IRevocationSubscriber.OnDisconnected() => _subscriber!.OnDisconnected();
    }
}
