using System.Buffers.Text;
using System.Text;
using System.Text.Json.Nodes;
using Bouncer.Tokens;

namespace Bouncer.Tests.Tokens;

public sealed class JwsIssuerTests
{
    private readonly ManualClock _clock = new();

    private static IssueOptions Options => new() { Issuer = TokenFactory.Issuer, Audience = TokenFactory.Audience };

    private static JsonObject Part(string token, int index) =>
        JsonNode.Parse(Base64Url.DecodeFromChars(token.Split('.')[index]))!.AsObject();

    [Theory]
    [MemberData(nameof(TestKeys.All), MemberType = typeof(TestKeys))]
    public void Issue_AnyAlg_VerifiesWithClaims(JwsAlgorithm alg)
    {
        var key = TestKeys.For(alg);
        string token = new JwsIssuer(key, Options, _clock).Issue(new TokenRequest { Subject = "u1", SessionId = "s1" });
        var result = new JwsVerifier(JwkSet.Create([key]), TokenFactory.Options(), _clock).Verify(token);
        Assert.True(result.IsValid, result.Failure.ToCode());
        Assert.Equal("u1", result.GetSubject());
        Assert.Equal("s1", result.GetSessionId());
        Assert.NotNull(result.GetJwtId());
    }

    [Fact]
    public void Issue_Header_HasAtJwtTypAndKid()
    {
        var key = TestKeys.For(JwsAlgorithm.ES256);
        var header = Part(new JwsIssuer(key, Options, _clock).Issue(new TokenRequest { Subject = "u" }), 0);
        Assert.Equal("ES256", (string)header["alg"]!);
        Assert.Equal("at+jwt", (string)header["typ"]!);
        Assert.Equal(key.KeyId, (string)header["kid"]!);
        Assert.Equal(3, header.Count);
        Assert.Contains("\"typ\":\"at+jwt\"", Encoding.UTF8.GetString(Base64Url.DecodeFromChars(
            new JwsIssuer(key, Options, _clock).Issue(new TokenRequest { Subject = "u" }).Split('.')[0])));
    }

    [Fact]
    public void Issue_DefaultLifetime_IsTenMinutes()
    {
        var payload = Part(new JwsIssuer(TestKeys.For(JwsAlgorithm.HS256), Options, _clock).Issue(new TokenRequest { Subject = "u" }), 1);
        Assert.Equal(600, (long)payload["exp"]! - (long)payload["iat"]!);
        Assert.Equal(_clock.GetUtcNow().ToUnixTimeSeconds(), (long)payload["iat"]!);
    }

    [Fact]
    public void Issue_LifetimeAboveMaximum_Throws()
    {
        var issuer = new JwsIssuer(TestKeys.For(JwsAlgorithm.HS256), Options, _clock);
        Assert.Throws<ArgumentOutOfRangeException>(() => issuer.Issue(new TokenRequest { Subject = "u", Lifetime = TimeSpan.FromHours(2) }));
        Assert.Throws<ArgumentOutOfRangeException>(() => issuer.Issue(new TokenRequest { Subject = "u", Lifetime = TimeSpan.Zero }));
    }

    [Fact]
    public void Issue_RolesAndScope_AreWritten()
    {
        var payload = Part(new JwsIssuer(TestKeys.For(JwsAlgorithm.HS256), Options, _clock)
            .Issue(new TokenRequest { Subject = "u", Roles = ["admin"], Scope = "read" }), 1);
        Assert.Equal("admin", (string)payload["roles"]![0]!);
        Assert.Equal("read", (string)payload["scope"]!);
        Assert.Equal(TokenFactory.Issuer, (string)payload["iss"]!);
        Assert.Equal(TokenFactory.Audience, (string)payload["aud"]!);
    }

    [Fact]
    public void Issue_TwoTokens_HaveDistinctJti()
    {
        var issuer = new JwsIssuer(TestKeys.For(JwsAlgorithm.HS256), Options, _clock);
        Assert.NotEqual((string)Part(issuer.Issue(new TokenRequest { Subject = "u" }), 1)["jti"]!,
            (string)Part(issuer.Issue(new TokenRequest { Subject = "u" }), 1)["jti"]!);
    }

    [Fact]
    public void Constructor_PublicOnlyKey_Throws()
    {
        var publicKey = JwkSet.Parse(JwkSet.Create([TestKeys.For(JwsAlgorithm.ES256)]).ToPublicJson()).Keys[0];
        Assert.Throws<ArgumentException>(() => new JwsIssuer(publicKey, Options, _clock));
    }

    [Fact]
    public void Issue_ThenTokenPayload_IsAscii()
    {
        string token = new JwsIssuer(TestKeys.For(JwsAlgorithm.HS256), Options, _clock).Issue(new TokenRequest { Subject = "ü" });
        Assert.Equal(token.Length, Encoding.UTF8.GetByteCount(token));
    }
}
