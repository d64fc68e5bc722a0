using Bouncer.Refresh;
using Bouncer.Revocation;
using Bouncer.Tests;

namespace Bouncer.Stores.Tests;

/// <summary>
/// The behaviour every <see cref="IRefreshTokenStore"/> must show, driven through the
/// <see cref="RefreshTokenService"/> against a real server. A backend inherits this and supplies an
/// isolated store per test.
/// </summary>
public abstract class RefreshStoreContract
{
    protected readonly ManualClock Clock = new();
    protected readonly InProcessRevocationChannel Channel = new();

    /// <summary>A fresh, empty store isolated from every other test.</summary>
    protected abstract IRefreshTokenStore CreateStore();

    protected RefreshTokenService CreateService(IRefreshTokenStore? store = null, RefreshOptions? options = null) =>
        new(store ?? CreateStore(), Channel, Clock, options ?? new RefreshOptions { DerivationKey = new byte[32] });

    [Fact]
    public async Task Refresh_RotatesTokenAndMintsNewAccessGrant()
    {
        var service = CreateService();
        var login = await service.IssueAsync("alice", "read write", default);

        var next = await service.RefreshAsync(login.RefreshToken, default);

        Assert.Equal(RefreshOutcome.Issued, next.Outcome);
        Assert.NotEqual(login.RefreshToken, next.RefreshToken);
        Assert.Equal(login.Access!.Sid, next.Access!.Sid);
        Assert.NotEqual(login.Access.Jti, next.Access.Jti);
        Assert.Equal("alice", next.Access.Subject);
        Assert.Equal("read write", next.Access.Scope);
        Assert.Equal(RefreshOutcome.Issued, (await service.RefreshAsync(next.RefreshToken, default)).Outcome);
    }

    [Fact]
    public async Task Refresh_ReplayWithinGrace_ReturnsTheSamePair()
    {
        var service = CreateService();
        var login = await service.IssueAsync("alice", null, default);
        var first = await service.RefreshAsync(login.RefreshToken, default);
        Clock.Advance(TimeSpan.FromSeconds(4));

        var again = await service.RefreshAsync(login.RefreshToken, default);

        Assert.Equal(RefreshOutcome.Replayed, again.Outcome);
        Assert.Equal(first.RefreshToken, again.RefreshToken);
        Assert.Equal(first.Access, again.Access);
    }

    [Fact]
    public async Task Refresh_ReuseAfterGrace_RevokesTheWholeFamilyAndPushesIt()
    {
        var audits = new List<Bouncer.Diagnostics.AuditEvent>();
        var trail = new Bouncer.Diagnostics.BouncerAudit(time: Clock);
        trail.Recorded += audits.Add;
        var service = new RefreshTokenService(CreateStore(), Channel, Clock, new RefreshOptions { DerivationKey = new byte[32] }, audit: trail);
        await using var verifier = new RevocationListener(Channel, null, Clock);
        await verifier.StartAsync(default);
        var login = await service.IssueAsync("alice", null, default);
        var other = await service.IssueAsync("alice", null, default);
        var current = await service.RefreshAsync(login.RefreshToken, default);
        Clock.Advance(TimeSpan.FromSeconds(6));

        var stolen = await service.RefreshAsync(login.RefreshToken, default);

        Assert.Equal(RefreshOutcome.ReuseDetected, stolen.Outcome);
        Assert.Equal("refresh_token_reused", stolen.ReasonCode);
        Assert.Equal(RefreshOutcome.Revoked, (await service.RefreshAsync(current.RefreshToken, default)).Outcome);
        Assert.True(verifier.Set.IsSessionRevoked(login.Access!.Sid));
        Assert.Equal(RevocationVerdict.Revoked, await verifier.CheckAsync(current.Access!.Sid, current.Access.Jti, "alice", current.Access.IssuedAt.ToUnixTimeSeconds(), default));
        Assert.Equal(RefreshOutcome.Issued, (await service.RefreshAsync(other.RefreshToken, default)).Outcome);
        var audit = Assert.Single(audits);
        Assert.Equal(Bouncer.Diagnostics.AuditEventKind.RefreshReuseDetected, audit.Kind);
        Assert.Equal("refresh_token_reused", audit.Reason);
        Assert.Equal(login.Access.Sid, audit.Target);
    }

    [Fact]
    public async Task Refresh_ManyConcurrentOfOneToken_ProduceOneSuccessor()
    {
        var service = CreateService();
        var login = await service.IssueAsync("alice", null, default);

        var results = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(async () => await service.RefreshAsync(login.RefreshToken, default))));

        Assert.All(results, r => Assert.True(r.Succeeded, r.ReasonCode));
        Assert.Single(results, r => r.Outcome == RefreshOutcome.Issued);
        Assert.Single(results.Select(r => r.RefreshToken).Distinct());
        Assert.Single(results.Select(r => r.Access!.Jti).Distinct());
        Assert.Equal(RefreshOutcome.Issued, (await service.RefreshAsync(results[0].RefreshToken, default)).Outcome);
    }

    [Fact]
    public async Task Refresh_PastIdleLimitOrFamilyLifetime_IsExpired()
    {
        var service = CreateService(options: new RefreshOptions { DerivationKey = new byte[32], IdleLimit = TimeSpan.FromHours(1), FamilyLifetime = TimeSpan.FromHours(3) });
        var idle = await service.IssueAsync("alice", null, default);
        var active = await service.IssueAsync("alice", null, default);
        var token = active.RefreshToken;
        for (var i = 0; i < 5; i++)
        {
            Clock.Advance(TimeSpan.FromMinutes(50));
            if (i == 1) Assert.Equal(RefreshOutcome.Expired, (await service.RefreshAsync(idle.RefreshToken, default)).Outcome);
            var next = await service.RefreshAsync(token, default);
            if (i < 3) { Assert.Equal(RefreshOutcome.Issued, next.Outcome); token = next.RefreshToken; }
            else Assert.Equal(RefreshOutcome.Expired, next.Outcome);   // 200+ minutes: past the family's 3 hours
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not-a-token")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB")]
    public async Task Refresh_MalformedOrUnknown_IsInvalid(string? token)
    {
        var service = CreateService();
        await service.IssueAsync("alice", null, default);

        var result = await service.RefreshAsync(token, default);

        Assert.Equal(RefreshOutcome.Invalid, result.Outcome);
        Assert.Null(result.RefreshToken);
    }

    [Fact]
    public async Task RevokeUser_KillsEveryFamily_AndSetsTheUserCutOff()
    {
        var store = CreateStore();
        var service = CreateService(store);
        await using var verifier = new RevocationListener(Channel, null, Clock);
        await verifier.StartAsync(default);
        var a = await service.IssueAsync("alice", null, default);
        var b = await service.IssueAsync("alice", null, default);
        var bob = await service.IssueAsync("bob", null, default);
        Clock.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(2, await service.RevokeUserAsync("alice", "logout_all", default));
        var fresh = await service.IssueAsync("alice", null, default);

        Assert.Equal(RefreshOutcome.Revoked, (await service.RefreshAsync(a.RefreshToken, default)).Outcome);
        Assert.Equal(RefreshOutcome.Revoked, (await service.RefreshAsync(b.RefreshToken, default)).Outcome);
        Assert.Equal(RefreshOutcome.Issued, (await service.RefreshAsync(bob.RefreshToken, default)).Outcome);
        Assert.Equal(RevocationVerdict.Revoked, await verifier.CheckAsync(a.Access!.Sid, a.Access.Jti, "alice", a.Access.IssuedAt.ToUnixTimeSeconds(), default));
        // A login right after "log out everywhere" works at once.
        Assert.Equal(RevocationVerdict.Allowed, await verifier.CheckAsync(fresh.Access!.Sid, fresh.Access.Jti, "alice", fresh.Access.IssuedAt.ToUnixTimeSeconds(), default));
        Assert.Equal(RefreshOutcome.Issued, (await service.RefreshAsync(fresh.RefreshToken, default)).Outcome);
    }

    [Fact]
    public async Task Store_KeepsOnlyHashes_AndRotateIsOnceOnly()
    {
        var store = CreateStore();
        var service = CreateService(store);
        var login = await service.IssueAsync("alice", null, default);
        var record = await service.FindAsync(login.RefreshToken, default);

        Assert.NotNull(record);
        Assert.NotEqual(login.RefreshToken, record.TokenHash);
        Assert.Null(await store.GetAsync(login.RefreshToken!, default));
        var successor = record with { TokenHash = "successor-hash", Generation = 1 };
        var now = Clock.GetUtcNow();
        Assert.True(await store.RotateAsync(record.TokenHash, now, successor, default));
        Assert.False(await store.RotateAsync(record.TokenHash, now, successor with { TokenHash = "other" }, default));
        Assert.Null(await store.GetAsync("other", default));
        Assert.NotNull((await store.GetAsync(record.TokenHash, default))!.RotatedAt);
    }

    [Fact]
    public async Task AuthTime_RoundTrips_AndSurvivesRotation()
    {
        var store = CreateStore();
        var service = CreateService(store);
        var proved = Clock.GetUtcNow() - TimeSpan.FromSeconds(7);
        var login = await service.IssueAsync("alice", null, default, authTime: proved);
        var stored = await service.FindAsync(login.RefreshToken, default);
        Assert.Equal(proved, stored!.AuthTime);
        Assert.Equal(proved, login.Access!.AuthTime);

        Clock.Advance(TimeSpan.FromMinutes(5));
        var next = await service.RefreshAsync(login.RefreshToken, default);
        Clock.Advance(TimeSpan.FromMinutes(5));
        var third = await service.RefreshAsync(next.RefreshToken, default);

        Assert.Equal(RefreshOutcome.Issued, third.Outcome);
        Assert.Equal(proved, next.Access!.AuthTime);
        Assert.Equal(proved, third.Access!.AuthTime);
        Assert.NotEqual(third.Access.IssuedAt, third.Access.AuthTime);
        var successor = await service.FindAsync(third.RefreshToken, default);
        Assert.Equal((2, proved), (successor!.Generation, successor.AuthTime));
        // Written through the store directly too, not only by the service.
        var direct = successor with { TokenHash = "direct-successor", Generation = 3, AuthTime = proved - TimeSpan.FromDays(1) };
        Assert.True(await store.RotateAsync(successor.TokenHash, Clock.GetUtcNow(), direct, default));
        Assert.Equal(proved - TimeSpan.FromDays(1), (await store.GetAsync("direct-successor", default))!.AuthTime);
    }

    [Fact]
    public async Task GraceWindowReplay_FromAnotherClient_IsTheft_FromTheSameClient_TheSamePair()
    {
        // Issue 14 finding 4: inside the grace window a copy of the rotated token got the legitimate successor.
        var store = CreateStore();
        var service = CreateService(store);
        var browser = new Bouncer.Diagnostics.BouncerCaller { ClientAddress = "203.0.113.7", UserAgent = "Firefox/140" };
        var thief = new Bouncer.Diagnostics.BouncerCaller { ClientAddress = "198.51.100.9", UserAgent = "curl/8" };
        var previous = Bouncer.Diagnostics.BouncerCaller.Current;
        try
        {
            Bouncer.Diagnostics.BouncerCaller.Current = browser;
            var login = await service.IssueAsync("alice", null, default);
            var next = await service.RefreshAsync(login.RefreshToken, default);
            Assert.Equal(RefreshOutcome.Issued, next.Outcome);
            // The store keeps a keyed tag of the client, never its address.
            var stored = (await service.FindAsync(next.RefreshToken, default))!;
            Assert.NotNull(stored.Client);
            Assert.DoesNotContain("203.0.113.7", stored.Client);

            // A second tab of the same browser: the same pair.
            var tab = await service.RefreshAsync(login.RefreshToken, default);
            Assert.Equal(RefreshOutcome.Replayed, tab.Outcome);
            Assert.Equal(next.RefreshToken, tab.RefreshToken);

            // The same copy from another client: theft; the whole family ends, the browser's successor too.
            Bouncer.Diagnostics.BouncerCaller.Current = thief;
            var stolen = await service.RefreshAsync(login.RefreshToken, default);
            Assert.Equal(RefreshOutcome.ReuseDetected, stolen.Outcome);
            Assert.Null(stolen.RefreshToken);
            Bouncer.Diagnostics.BouncerCaller.Current = browser;
            Assert.False((await service.RefreshAsync(next.RefreshToken, default)).Succeeded);
        }
        finally
        {
            Bouncer.Diagnostics.BouncerCaller.Current = previous;
        }
    }

    [Fact]
    public async Task ReplaysOfOneFamily_AreRateLimited_WithoutSpendingTheToken()
    {
        // Issue 14 finding 4: parallel replays of one token were never counted; now each family has a per-minute budget.
        var store = CreateStore();
        var service = CreateService(store, new RefreshOptions { RefreshesPerFamilyPerMinute = 3 });
        var login = await service.IssueAsync("alice", null, default);
        var next = await service.RefreshAsync(login.RefreshToken, default);
        Assert.Equal(RefreshOutcome.Issued, next.Outcome);
        Assert.Equal(RefreshOutcome.Replayed, (await service.RefreshAsync(login.RefreshToken, default)).Outcome);
        Assert.Equal(RefreshOutcome.Replayed, (await service.RefreshAsync(login.RefreshToken, default)).Outcome);
        var limited = await service.RefreshAsync(login.RefreshToken, default);
        Assert.Equal(RefreshOutcome.RateLimited, limited.Outcome);
        Assert.Equal(FailureCodes.RateLimited, limited.ReasonCode);
        // Another family is not affected, and the limited family is intact after the window.
        var other = await service.IssueAsync("bob", null, default);
        Assert.Equal(RefreshOutcome.Issued, (await service.RefreshAsync(other.RefreshToken, default)).Outcome);
        Clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(RefreshOutcome.Issued, (await service.RefreshAsync(next.RefreshToken, default)).Outcome);
    }

    [Fact]
    public async Task DpopJkt_BindsTheFamily_RefreshNeedsTheSameKey()
    {
        var store = CreateStore();
        var service = CreateService(store);
        const string jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
        var login = await service.IssueAsync("alice", null, default, null, jkt);
        Assert.Equal(jkt, (await service.FindAsync(login.RefreshToken, default))!.DpopJkt);
        Assert.Equal(jkt, login.Access!.DpopJkt);

        // RFC 9449 5: no proof, or a proof by another key, is refused and spends nothing.
        Assert.Equal(RefreshOutcome.DpopKeyMismatch, (await service.RefreshAsync(login.RefreshToken, default)).Outcome);
        Assert.Equal(RefreshOutcome.DpopKeyMismatch, (await service.RefreshAsync(login.RefreshToken, "another-key-thumbprint", default)).Outcome);
        Assert.Null((await store.GetAsync((await service.FindAsync(login.RefreshToken, default))!.TokenHash, default))!.RotatedAt);

        var next = await service.RefreshAsync(login.RefreshToken, jkt, default);
        Assert.Equal(RefreshOutcome.Issued, next.Outcome);
        Assert.Equal(jkt, next.Access!.DpopJkt);
        Assert.Equal(jkt, (await service.FindAsync(next.RefreshToken, default))!.DpopJkt);
        // A copy replayed inside the grace window without the key is refused too.
        Assert.Equal(RefreshOutcome.DpopKeyMismatch, (await service.RefreshAsync(login.RefreshToken, default)).Outcome);
        Assert.Equal(RefreshOutcome.Replayed, (await service.RefreshAsync(login.RefreshToken, jkt, default)).Outcome);

        // An unbound family stays unbound, through the store directly too.
        var plain = await service.IssueAsync("bob", null, default);
        Assert.Null((await service.FindAsync(plain.RefreshToken, default))!.DpopJkt);
        var successor = (await service.FindAsync(next.RefreshToken, default))!;
        var direct = successor with { TokenHash = "direct-successor", Generation = 9, DpopJkt = "direct-jkt" };
        Assert.True(await store.RotateAsync(successor.TokenHash, Clock.GetUtcNow(), direct, default));
        Assert.Equal("direct-jkt", (await store.GetAsync("direct-successor", default))!.DpopJkt);
    }

    [Fact]
    public async Task AuthTime_DefaultsToLoginTime()
    {
        var service = CreateService();
        var login = await service.IssueAsync("alice", null, default);

        Assert.Equal(Clock.GetUtcNow(), (await service.FindAsync(login.RefreshToken, default))!.AuthTime);
        Assert.Equal(Clock.GetUtcNow(), login.Access!.AuthTime);
    }

    [Fact]
    public async Task Store_Sweep_RemovesOnlyExpired()
    {
        var store = CreateStore();
        var service = CreateService(store, new RefreshOptions { DerivationKey = new byte[32], IdleLimit = TimeSpan.FromHours(1) });
        for (var i = 0; i < 5; i++) await service.IssueAsync("old" + i, null, default);
        Clock.Advance(TimeSpan.FromHours(2));
        var live = await service.IssueAsync("new", null, default);

        var swept = 0;
        int n;
        while ((n = await store.SweepAsync(Clock.GetUtcNow(), 2, default)) > 0) swept += n;

        Assert.Equal(5, swept);
        Assert.NotNull(await service.FindAsync(live.RefreshToken, default));
    }

    [Fact]
    public async Task Store_Sweep_TakesIdleAndFamilyExpiredTokens_AcrossRotations()
    {
        var store = CreateStore();
        var service = CreateService(store, new RefreshOptions
        {
            DerivationKey = new byte[32], FamilyLifetime = TimeSpan.FromHours(2), IdleLimit = TimeSpan.FromHours(1),
        });
        var a1 = (await service.IssueAsync("alice", null, default)).RefreshToken;
        var b1 = (await service.IssueAsync("bob", null, default)).RefreshToken;
        var c1 = (await service.IssueAsync("carol", null, default)).RefreshToken;
        Clock.Advance(TimeSpan.FromMinutes(50));
        var a2 = (await service.RefreshAsync(a1, default)).RefreshToken;
        var c2 = (await service.RefreshAsync(c1, default)).RefreshToken;
        Clock.Advance(TimeSpan.FromMinutes(20));

        // +70 min: the three first tokens are past their idle limit (two of them rotated, one never used).
        Assert.Equal(3, await SweepAllAsync(store));
        Assert.Null(await service.FindAsync(a1, default));
        Assert.Null(await service.FindAsync(b1, default));
        Assert.Null(await service.FindAsync(c1, default));
        Assert.NotNull(await service.FindAsync(a2, default));

        Clock.Advance(TimeSpan.FromMinutes(35));
        var c3 = (await service.RefreshAsync(c2, default)).RefreshToken;
        Clock.Advance(TimeSpan.FromMinutes(10));
        // +115 min: a2 and c2 idle-expired at +110; c3's idle limit (+165) is capped by its family's (+120).
        Assert.Equal(2, await SweepAllAsync(store));
        Assert.NotNull(await service.FindAsync(c3, default));

        Clock.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(1, await SweepAllAsync(store));
        Assert.Null(await service.FindAsync(c3, default));
        Assert.Equal(0, await store.SweepAsync(Clock.GetUtcNow(), 10, default));
    }

    [Fact]
    public async Task Store_Sweep_ManyBatchesAmongLive_RemovesExactlyTheExpired()
    {
        var store = CreateStore();
        var service = CreateService(store, new RefreshOptions { DerivationKey = new byte[32], IdleLimit = TimeSpan.FromHours(1) });
        var live = new List<string>();
        for (var i = 0; i < 5; i++) live.Add((await service.IssueAsync("live" + i, null, default)).RefreshToken!);
        var old = new string[600];
        await Parallel.ForAsync(0, old.Length, async (i, ct) => old[i] = (await service.IssueAsync("old" + i, null, ct)).RefreshToken!);
        Clock.Advance(TimeSpan.FromMinutes(40));
        for (var i = 0; i < live.Count; i++) live[i] = (await service.RefreshAsync(live[i], default)).RefreshToken!;
        Clock.Advance(TimeSpan.FromMinutes(30));

        var batches = new List<int>();
        int n;
        while ((n = await store.SweepAsync(Clock.GetUtcNow(), 250, default)) > 0) batches.Add(n);

        // The five first tokens of the live families are expired too: 605 in all.
        Assert.Equal([250, 250, 105], batches);
        foreach (var token in live) Assert.NotNull(await service.FindAsync(token, default));
        foreach (var token in old.Take(30)) Assert.Null(await service.FindAsync(token, default));
    }

    private async Task<int> SweepAllAsync(IRefreshTokenStore store)
    {
        var total = 0;
        int n;
        while ((n = await store.SweepAsync(Clock.GetUtcNow(), 2, default)) > 0) total += n;
        return total;
    }
}

public sealed class MemoryRefreshTokenStoreTests : RefreshStoreContract
{
    protected override IRefreshTokenStore CreateStore() => new MemoryRefreshTokenStore();
}
