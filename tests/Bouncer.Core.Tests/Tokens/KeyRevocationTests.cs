using System.Diagnostics;
using Bouncer.Diagnostics;
using Bouncer.Revocation;
using Bouncer.Tokens;

namespace Bouncer.Tests.Tokens;

/// <summary>
/// The bearer pipeline refuses a token verified by a revoked key even when its key set still holds that key: the
/// case of a downstream verifier whose cached JWKS predates the revocation.
/// </summary>
public sealed class KeyRevocationTests
{
    private readonly ManualClock _clock = new();

    [Fact]
    public async Task Validate_KeyRevokedButStillInTheCachedSet_IsRefused_OtherKeysPass()
    {
        var revoked = SigningKey.Generate(JwsAlgorithm.ES256, "compromised");
        var other = SigningKey.Generate(JwsAlgorithm.ES256, "other");
        var cached = JwkSet.Create([revoked, other]);
        var channel = new InProcessRevocationChannel();
        await using var listener = new RevocationListener(channel, null, _clock);
        await listener.StartAsync(default);
        var validator = new AccessTokenValidator(new JwsVerifier(cached, new VerifyOptions { Issuer = "iss", Audience = "aud" }, _clock), listener);
        string Mint(SigningKey key) => new JwsIssuer(key, new IssueOptions { Issuer = "iss", Audience = "aud" }, _clock).Issue(new TokenRequest { Subject = "alice" });
        var byRevoked = Mint(revoked);
        var byOther = Mint(other);
        Assert.True((await validator.ValidateAsync(byRevoked, default)).IsValid);

        await channel.PublishAsync(new RevocationRecord(RevocationKind.Key, "compromised", _clock.GetUtcNow(), _clock.GetUtcNow().AddHours(13)), default);

        Assert.Equal(FailureCodes.TokenRevoked, (await validator.ValidateAsync(byRevoked, default)).Failure);
        Assert.True((await validator.ValidateAsync(byOther, default)).IsValid);
        Assert.True(listener.Set.IsKeyRevoked("compromised"));
        Assert.False(listener.Set.IsKeyRevoked("other"));

        // Forgotten only once its entry expires (by then the key has left every cached JWKS and every token it signed is dead).
        listener.Set.Prune(_clock.GetUtcNow().AddHours(13));
        Assert.False(listener.Set.IsKeyRevoked("compromised"));
    }

    [Fact]
    public async Task KeyRevocation_IsTracedAsKey_NotAsEveryone()
    {
        var kinds = new List<string?>();
        // Other test classes apply revocations in parallel: count only the spans under this test's own trace.
        using var parent = new Activity("key-revocation-test").Start();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == BouncerActivities.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = a => { if (a.OperationName == BouncerActivities.RevocationApply && a.TraceId == parent.TraceId) lock (kinds) kinds.Add(a.GetTagItem(BouncerActivities.KindTag) as string); },
        };
        ActivitySource.AddActivityListener(listener);
        var channel = new InProcessRevocationChannel();
        await using var revocations = new RevocationListener(channel, null, _clock);
        await revocations.StartAsync(default);

        await channel.PublishAsync(new RevocationRecord(RevocationKind.Key, "compromised", _clock.GetUtcNow(), _clock.GetUtcNow().AddHours(1)), default);
        await channel.PublishAsync(new RevocationRecord(RevocationKind.Everyone, "*", _clock.GetUtcNow(), _clock.GetUtcNow().AddHours(1)), default);

        // A record can be applied twice (its push, then a replay of the log): the set is idempotent, the span kind is what counts.
        lock (kinds) Assert.Equal(["key", "everyone"], kinds.Distinct());
    }
}
