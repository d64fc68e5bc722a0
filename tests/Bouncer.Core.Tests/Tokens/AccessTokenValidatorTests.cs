using Bouncer.Revocation;
using Bouncer.Tokens;

namespace Bouncer.Tests.Tokens;

/// <summary>
/// The bearer pipeline read from a slice of the <c>Authorization</c> header (no copy of the token) judges exactly as
/// the string overload: same claims for a good token, same refusals, and the revocation state still applies.
/// </summary>
public sealed class AccessTokenValidatorTests
{
    private readonly ManualClock _clock = new();

    [Fact]
    public async Task ValidateAsync_HeaderSlice_JudgesLikeTheString()
    {
        var key = SigningKey.Generate(JwsAlgorithm.HS256, "k1");
        var channel = new InProcessRevocationChannel();
        await using var listener = new RevocationListener(channel, null, _clock);
        await listener.StartAsync(default);
        var validator = new AccessTokenValidator(new JwsVerifier(JwkSet.Create([key]), new VerifyOptions { Issuer = "iss", Audience = "aud" }, _clock), listener);
        var token = new JwsIssuer(key, new IssueOptions { Issuer = "iss", Audience = "aud" }, _clock)
            .Issue(new TokenRequest { Subject = "alice", SessionId = "s1", JwtId = "j1", Roles = ["user"], Scope = "read" });
        string header = "Bearer " + token + "  ";

        var fromSlice = await validator.ValidateAsync(header.AsMemory(7).Trim(), default);
        var fromString = await validator.ValidateAsync(token, default);
        Assert.True(fromSlice.IsValid);
        Assert.Equal(fromString.Claims.Subject, fromSlice.Claims.Subject);
        Assert.Equal("s1", fromSlice.Claims.SessionId);
        Assert.Equal("j1", fromSlice.Claims.JwtId);
        Assert.Equal(["user"], fromSlice.Claims.Roles);

        // A slice that stops short of the signature, or runs into the header's trailing spaces, is refused as the string is.
        Assert.Equal((await validator.ValidateAsync(token[..^1], default)).Failure, (await validator.ValidateAsync(header.AsMemory(7, token.Length - 1), default)).Failure);
        Assert.False((await validator.ValidateAsync(header.AsMemory(7), default)).IsValid);
        Assert.Equal(FailureCodes.Malformed, (await validator.ValidateAsync("Bearer é.x.y".AsMemory(7), default)).Failure);

        await channel.PublishAsync(new RevocationRecord(RevocationKind.Session, "s1", _clock.GetUtcNow(), _clock.GetUtcNow().AddHours(1)), default);
        Assert.Equal(FailureCodes.TokenRevoked, (await validator.ValidateAsync(header.AsMemory(7).Trim(), default)).Failure);
        Assert.Equal(FailureCodes.TokenRevoked, (await validator.ValidateAsync(token, default)).Failure);
    }
}
