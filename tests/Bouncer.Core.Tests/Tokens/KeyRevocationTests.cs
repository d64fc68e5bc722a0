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
}
