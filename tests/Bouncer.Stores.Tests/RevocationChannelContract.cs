using Bouncer.Revocation;
using Bouncer.Tests;

namespace Bouncer.Stores.Tests;

/// <summary>
/// What every <see cref="IRevocationChannel"/> transport must do, against a real server: three engine
/// instances with separate connections; revoke on one, refused on the other two.
/// </summary>
public abstract class RevocationChannelContract
{
    protected readonly ManualClock Clock = new();

    /// <summary>
    /// <paramref name="count"/> channels with separate connections to one shared, isolated log (its own
    /// prefix, table or channel name): what separate instances of one deployment would hold.
    /// </summary>
    protected abstract Task<IRevocationChannel[]> CreateChannelsAsync(int count);

    protected RevocationRecord Sid(string sid) => new(RevocationKind.Session, sid, Clock.GetUtcNow(), Clock.GetUtcNow().AddMinutes(11));

    protected static async Task WaitUntil(Func<bool> condition, string what)
    {
        for (var i = 0; i < 1000 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition(), what + " within 10 s");
    }

    [Fact]
    public async Task Publish_OnOneInstance_ReachesTheOtherTwoByPush()
    {
        var channels = await CreateChannelsAsync(3);
        var listeners = new List<RevocationListener>();
        foreach (var c in channels)
        {
            var l = new RevocationListener(c, new RevocationOptions { ReplayInterval = TimeSpan.FromHours(1) }, Clock);
            await l.StartAsync(default);
            listeners.Add(l);
        }

        await channels[0].PublishAsync(Sid("s-1"), default);

        foreach (var l in listeners) await WaitUntil(() => l.Set.IsSessionRevoked("s-1"), "revocation pushed to every instance");
        foreach (var l in listeners) Assert.Equal(RevocationVerdict.Revoked, await l.CheckAsync("s-1", null, null, 0, default));
        foreach (var l in listeners) await l.DisposeAsync();
    }

    [Fact]
    public async Task ReadAfter_ReturnsEntriesInOrder_FromAnyCursor()
    {
        var channel = (await CreateChannelsAsync(1))[0];
        var cursors = new List<long>();
        for (var i = 0; i < 25; i++) cursors.Add(await channel.PublishAsync(Sid("s" + i), default));

        var all = await channel.ReadAfterAsync(0, 100, default);
        var page = await channel.ReadAfterAsync(cursors[9], 5, default);

        Assert.Equal(cursors, all.Select(e => e.Cursor));
        Assert.True(cursors.SequenceEqual(cursors.Order()) && cursors.Distinct().Count() == 25, "cursors grow strictly");
        Assert.Equal(Enumerable.Range(0, 25).Select(i => "s" + i), all.Select(e => e.Revocation.Subject));
        Assert.Equal(Enumerable.Range(10, 5).Select(i => "s" + i), page.Select(e => e.Revocation.Subject));
        Assert.Equal(RevocationKind.Session, all[0].Revocation.Kind);
        Assert.Equal(Sid("x").ExpiresAt, all[0].Revocation.ExpiresAt);
    }

    [Fact]
    public async Task Publish_ConcurrentFromManyTasks_EveryEntryLoggedOnce()
    {
        var channels = await CreateChannelsAsync(2);

        await Parallel.ForAsync(0, 100, async (i, ct) => await channels[i % 2].PublishAsync(Sid("c" + i), ct));

        var all = await channels[0].ReadAfterAsync(0, 1000, default);
        Assert.Equal(100, all.Count);
        Assert.Equal(100, all.Select(e => e.Revocation.Subject).Distinct().Count());
        Assert.Equal(100, all.Select(e => e.Cursor).Distinct().Count());
    }

    [Fact]
    public async Task LateInstance_ReplaysEverythingStillRetained()
    {
        var channels = await CreateChannelsAsync(2);
        await channels[0].PublishAsync(Sid("before-start"), default);
        await channels[0].PublishAsync(new RevocationRecord(RevocationKind.User, "alice", Clock.GetUtcNow(), Clock.GetUtcNow().AddMinutes(11)), default);

        await using var late = new RevocationListener(channels[1], null, Clock);
        await late.StartAsync(default);

        Assert.True(late.Set.IsSessionRevoked("before-start"));
        Assert.True(late.Set.IsRevoked("", "", "alice", Clock.GetUtcNow().ToUnixTimeSeconds() - 1));
    }

    [Fact]
    public async Task Prune_DropsExpiredEntriesOnly()
    {
        var channel = (await CreateChannelsAsync(1))[0];
        var now = Clock.GetUtcNow();
        await channel.PublishAsync(new RevocationRecord(RevocationKind.Token, "old", now, now.AddMinutes(1)), default);
        await channel.PublishAsync(new RevocationRecord(RevocationKind.Token, "new", now, now.AddMinutes(20)), default);

        Assert.Equal(1, await channel.PruneAsync(now.AddMinutes(5), default));

        Assert.Equal(["new"], (await channel.ReadAfterAsync(0, 10, default)).Select(e => e.Revocation.Subject));
    }

    [Fact]
    public async Task Prune_BeyondOneBatch_DropsEveryExpiredEntryAndKeepsTheRest()
    {
        var channel = (await CreateChannelsAsync(1))[0];
        var now = Clock.GetUtcNow();
        var kept = new List<string>();
        for (var i = 0; i < 1050; i++)
        {
            // Every 50th entry outlives the prune, interleaved with the expired ones in cursor order.
            var keep = i % 50 == 0;
            if (keep) kept.Add("keep" + i);
            await channel.PublishAsync(new RevocationRecord(RevocationKind.Token, keep ? "keep" + i : "old" + i, now, now.AddMinutes(keep ? 20 : 1)), default);
        }

        Assert.Equal(1050 - kept.Count, await channel.PruneAsync(now.AddMinutes(5), default));

        Assert.Equal(kept, (await channel.ReadAfterAsync(0, 2000, default)).Select(e => e.Revocation.Subject));
        Assert.Equal(0, await channel.PruneAsync(now.AddMinutes(5), default));
    }
}

public sealed class InProcessRevocationChannelTests : RevocationChannelContract
{
    protected override Task<IRevocationChannel[]> CreateChannelsAsync(int count)
    {
        // One process has one log: "instances" share the same channel object.
        var shared = new InProcessRevocationChannel();
        return Task.FromResult(Enumerable.Repeat<IRevocationChannel>(shared, count).ToArray());
    }
}
