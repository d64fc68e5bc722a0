using Bouncer.Diagnostics;
using Bouncer.Revocation;
using Bouncer.Tests;
using Bouncer.Tokens;
using Microsoft.Extensions.DependencyInjection;

namespace Bouncer.Stores.Tests;

/// <summary>
/// Scheduled key rotation and key compromise across two engine instances (two service providers, as two server
/// processes would have) sharing one store, on one fake clock. Each backend runs it against its real server.
/// Housekeeping's key step (<see cref="KeyManager.RunScheduleAsync"/>) is called directly instead of waiting for its
/// 30 s timer; nothing else is faked.
/// </summary>
public abstract class KeyLifecycleContract : IAsyncLifetime
{
    protected static readonly TimeSpan Interval = TimeSpan.FromHours(2);
    protected static readonly TimeSpan PrePublication = TimeSpan.FromMinutes(15);
    protected static readonly TimeSpan AccessLifetime = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan Skew = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    protected readonly ManualClock Clock = new();
    private readonly List<ServiceProvider> _providers = [];
    private readonly List<AuditEvent> _audit = [];

    /// <summary>Puts the backend under test on <paramref name="bouncer"/>; every call of one test must share one store.</summary>
    protected abstract void UseStore(BouncerBuilder bouncer);

    protected sealed class Instance(ServiceProvider services)
    {
        public KeyManager Keys { get; } = services.GetRequiredService<KeyManager>();
        public BouncerTokens Tokens { get; } = services.GetRequiredService<BouncerTokens>();
        public RevocationListener Listener { get; } = services.GetRequiredService<RevocationListener>();
        public IAccessTokenValidator Validator { get; } = services.GetRequiredService<IAccessTokenValidator>();

        public string Signer => Tokens.Keys.CurrentSigningKey.KeyId!;

        public HashSet<string> Published => [.. Tokens.Keys.VerificationKeys.Keys.Select(k => k.KeyId!)];

        public string Mint() => Tokens.Signer.Issue(new TokenRequest { Subject = "alice", JwtId = Guid.NewGuid().ToString("N") });

        public async Task<string?> VerifyAsync(string token) => (await Validator.ValidateAsync(token, default)).Failure;
    }

    protected async Task<Instance> StartAsync()
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(Clock);
        var bouncer = services.AddBouncerCore(o =>
        {
            o.KeyEncryption.Key = Bouncer.Tests.TestKeyEncryption.Key;   // networked stores need one outside Development
            o.KeyRotationInterval = Interval;
            o.KeyPrePublicationDelay = PrePublication;
            o.Refresh.AccessTokenLifetime = AccessLifetime;
            o.SigningAlgorithm = SigningAlgorithm;
            o.NearCache = null;
        });
        UseStore(bouncer);
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        provider.GetRequiredService<BouncerAudit>().Recorded += e => { lock (_audit) _audit.Add(e); };
        var instance = new Instance(provider);
        // As BouncerEngineService.StartAsync: the key manager observes the listener before it replays.
        await instance.Listener.StartAsync(default);
        return instance;
    }

    protected virtual JwsAlgorithm SigningAlgorithm => JwsAlgorithm.ES256;

    private List<AuditEvent> Audited(AuditEventKind kind)
    {
        lock (_audit) return _audit.Where(e => e.Kind == kind).ToList();
    }

    [Fact]
    public async Task ScheduledRotation_TwoInstancesRacing_OneNewKeyPerInterval_PublishedBeforeItSigns_NeverEarly()
    {
        var a = await StartAsync();
        var b = await StartAsync();
        var first = a.Signer;
        Assert.Equal(first, b.Signer);
        var seen = new HashSet<string> { first };

        for (int round = 1; round <= 3; round++)
        {
            // Due once the newest key has signed for the interval minus the pre-publication delay: one second short, nothing.
            Clock.Advance(Interval - PrePublication - TimeSpan.FromSeconds(1));
            await Task.WhenAll(a.Keys.RunScheduleAsync(default), b.Keys.RunScheduleAsync(default));
            Assert.Empty(a.Published.Except(seen));

            Clock.Advance(TimeSpan.FromSeconds(1));
            var previous = a.Signer;
            // Both instances run the step at once, twice: the compare-and-set lets exactly one key in.
            await Task.WhenAll(a.Keys.RunScheduleAsync(default), b.Keys.RunScheduleAsync(default));
            await Task.WhenAll(a.Keys.RunScheduleAsync(default), b.Keys.RunScheduleAsync(default));
            var added = a.Published.Except(seen).ToList();
            var fresh = Assert.Single(added);
            Assert.Equal(a.Published, b.Published);
            seen.Add(fresh);

            // Published on both, signing on neither until the delay has passed.
            Assert.Equal(previous, a.Signer);
            Assert.Equal(previous, b.Signer);
            Clock.Advance(PrePublication - TimeSpan.FromSeconds(1));
            await Task.WhenAll(a.Keys.RunScheduleAsync(default), b.Keys.RunScheduleAsync(default));
            Assert.Equal(previous, a.Signer);
            Assert.Equal(previous, b.Signer);
            Assert.Equal(previous, KidOf(b.Mint()));
            Clock.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal(fresh, a.Signer);
            Assert.Equal(fresh, b.Signer);
            Assert.Equal(fresh, KidOf(a.Mint()));
        }
        Assert.Equal(3, Audited(AuditEventKind.KeyRotated).Count(e => e.Reason == "scheduled"));
    }

    [Fact]
    public async Task ScheduledRotation_OldKey_VerifiesUntilItsLastTokenExpires_ThenRetires()
    {
        var a = await StartAsync();
        var b = await StartAsync();
        var old = a.Signer;
        Clock.Advance(Interval - PrePublication);
        await a.Keys.RunScheduleAsync(default);
        await b.Keys.RunScheduleAsync(default);
        var successor = Assert.Single(a.Published.Except([old]));

        // The last token the old key signs: one second before the successor takes over.
        Clock.Advance(PrePublication - TimeSpan.FromSeconds(1));
        var last = b.Mint();
        Assert.Equal(old, KidOf(last));
        Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(successor, a.Signer);

        // Until it expires (plus the verifiers' skew) the last token passes on both instances, after every housekeeping step.
        Clock.Advance(AccessLifetime - TimeSpan.FromSeconds(1) + Skew - TimeSpan.FromSeconds(1));
        await Task.WhenAll(a.Keys.RunScheduleAsync(default), b.Keys.RunScheduleAsync(default));
        Assert.Null(await a.VerifyAsync(last));
        Assert.Null(await b.VerifyAsync(last));
        Assert.Contains(old, a.Published);
        Assert.Empty(Audited(AuditEventKind.KeyRetired));

        // Past the successor's activation + longest token lifetime + skew: retired by one instance, gone from both.
        Clock.Advance(TimeSpan.FromSeconds(3));
        await Task.WhenAll(a.Keys.RunScheduleAsync(default), b.Keys.RunScheduleAsync(default));
        await b.Keys.RunScheduleAsync(default);
        Assert.DoesNotContain(old, a.Published);
        Assert.DoesNotContain(old, b.Published);
        Assert.Equal(old, Assert.Single(Audited(AuditEventKind.KeyRetired)).Target);
    }

    [Fact]
    public async Task RevokeOnA_OnlySigningKey_TokensRefusedOnBAfterTheAnnouncement_FreshKeySignsAtOnce()
    {
        var a = await StartAsync();
        var b = await StartAsync();
        var compromised = a.Signer;
        var stolen = b.Mint();
        Assert.Null(await a.VerifyAsync(stolen));
        Assert.Null(await b.VerifyAsync(stolen));

        var (outcome, replacement) = await a.Keys.RevokeAsync(compromised, "test", default);

        Assert.Equal(KeyOutcome.Done, outcome);
        Assert.NotNull(replacement);
        // Generated before the old key left: A signs with the replacement at once, no pre-publication.
        Assert.Equal(replacement, a.Signer);
        Assert.NotNull(await a.VerifyAsync(stolen));
        // B learns of it from the announcement, not from a reload or a timer.
        await WaitForAsync(b.Listener, () => b.Listener.Set.IsKeyRevoked(compromised), "the key revocation reaching B");
        Assert.NotNull(await b.VerifyAsync(stolen));

        // B picks the replacement up on its own (the announcement triggers a reload) and signs with it.
        await EventuallyAsync(() => b.Signer == replacement, "B signing with the replacement");
        var fresh = b.Mint();
        Assert.Null(await a.VerifyAsync(fresh));
        Assert.Null(await b.VerifyAsync(fresh));
        Assert.Null(await b.VerifyAsync(a.Mint()));
        Assert.DoesNotContain(compromised, a.Published);
        Assert.DoesNotContain(compromised, b.Published);
        Assert.Equal(compromised, Assert.Single(Audited(AuditEventKind.KeyRevoked)).Target);

        // A third instance starting later replays the log: the kid is refused there too, and never loaded.
        var c = await StartAsync();
        Assert.True(c.Listener.Set.IsKeyRevoked(compromised));
        Assert.NotNull(await c.VerifyAsync(stolen));
        Assert.Null(await c.VerifyAsync(fresh));
    }

    [Fact]
    public async Task Revoke_AKeyThatNoLongerSigns_KeepsTheSigner_AndTheRestVerify()
    {
        var a = await StartAsync();
        var b = await StartAsync();
        var old = a.Signer;
        Clock.Advance(Interval - PrePublication);
        await a.Keys.RunScheduleAsync(default);
        Clock.Advance(PrePublication - TimeSpan.FromSeconds(1));
        var byOld = a.Mint();
        Clock.Advance(TimeSpan.FromSeconds(1));
        await b.Keys.RunScheduleAsync(default);
        var current = a.Signer;
        Assert.NotEqual(old, current);
        var byCurrent = b.Mint();
        Assert.Null(await a.VerifyAsync(byOld));
        Assert.Null(await b.VerifyAsync(byOld));

        var (outcome, replacement) = await b.Keys.RevokeAsync(old, "test", default);

        Assert.Equal(KeyOutcome.Done, outcome);
        Assert.Null(replacement);
        Assert.Equal(current, b.Signer);
        await WaitForAsync(a.Listener, () => a.Listener.Set.IsKeyRevoked(old), "the key revocation reaching A");
        Assert.NotNull(await a.VerifyAsync(byOld));
        Assert.Null(await a.VerifyAsync(byCurrent));
        Assert.Equal(current, a.Signer);
    }

    [Fact]
    public async Task Revoke_UnknownKid_IsNotFound_ButAnnounced()
    {
        var a = await StartAsync();
        var b = await StartAsync();

        var (outcome, replacement) = await a.Keys.RevokeAsync("no-such-kid", "test", default);

        Assert.Equal(KeyOutcome.NotFound, outcome);
        Assert.Null(replacement);
        await WaitForAsync(b.Listener, () => b.Listener.Set.IsKeyRevoked("no-such-kid"), "the announcement reaching B");
        Assert.Equal(a.Signer, b.Signer);
    }

    [Fact]
    public async Task Retire_SigningKey_IsRefused_PendingKey_IsDropped()
    {
        var a = await StartAsync();
        var signing = a.Signer;
        var pending = (await a.Keys.RotateAsync("test", null, default)).KeyId;

        Assert.Equal(KeyOutcome.Signing, (await a.Keys.RetireAsync(signing, "test", default)).Outcome);
        Assert.Equal(KeyOutcome.Done, (await a.Keys.RetireAsync(pending, "test", default)).Outcome);
        Assert.Equal([signing], a.Published);
        Assert.Equal(KeyOutcome.NotFound, (await a.Keys.RetireAsync(pending, "test", default)).Outcome);
    }

    protected static string KidOf(string token) =>
        System.Text.Json.JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(token.Split('.')[0])).RootElement.GetProperty("kid").GetString()!;

    // Waits on the listener's own signal (each applied revocation), re-checking after each one: no fixed sleep.
    private static async Task WaitForAsync(RevocationListener listener, Func<bool> done, string what)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!done())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting for {what}");
            await listener.WaitForNextAsync(TimeSpan.FromMilliseconds(200), default);
        }
    }

    private static async Task EventuallyAsync(Func<bool> done, string what)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!done())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(10);
        }
    }

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var p in _providers)
        {
            await p.GetRequiredService<RevocationListener>().DisposeAsync();
            await p.DisposeAsync();
        }
    }
}
