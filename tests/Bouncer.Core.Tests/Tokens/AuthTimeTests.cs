using Bouncer.Tokens;

namespace Bouncer.Tests.Tokens;

/// <summary>auth_time (OpenID Connect Core 1.0 2): written by the issuer, read by both claim readers, checked as a NumericDate.</summary>
public sealed class AuthTimeTests
{
    private static readonly SigningKey Key = TestKeys.For(JwsAlgorithm.HS256);

    private static JwsVerifier Verifier() => new(JwkSet.Create([Key]), TokenFactory.Options());

    [Fact]
    public void Issue_WithAuthTime_WritesIntegerSecondsThatBothReadersReturn()
    {
        var issuer = new JwsIssuer(Key, new IssueOptions { Issuer = TokenFactory.Issuer, Audience = TokenFactory.Audience });
        var authTime = DateTimeOffset.UtcNow.AddMinutes(-3).AddMilliseconds(-420);

        var result = Verifier().Verify(issuer.Issue(new TokenRequest { Subject = "alice", AuthTime = authTime }));

        Assert.True(result.IsValid, result.Failure.ToString());
        Assert.Contains($"\"auth_time\":{authTime.ToUnixTimeSeconds()}", result.GetPayloadJson());
        Assert.Equal(authTime.ToUnixTimeSeconds(), result.GetAccessClaims().AuthTimeUnixSeconds);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(authTime.ToUnixTimeSeconds()), result.ToClaims().AuthTime);
        Assert.Equal(result.ToClaims().AuthTime, result.AuthTime);
    }

    [Fact]
    public void Issue_WithoutAuthTime_OmitsTheClaim()
    {
        var issuer = new JwsIssuer(Key, new IssueOptions { Issuer = TokenFactory.Issuer, Audience = TokenFactory.Audience });

        var result = Verifier().Verify(issuer.Issue(new TokenRequest { Subject = "alice" }));

        Assert.DoesNotContain("auth_time", result.GetPayloadJson());
        Assert.Null(result.GetAccessClaims().AuthTimeUnixSeconds);
        Assert.Null(result.ToClaims().AuthTime);
    }

    [Theory]
    [InlineData("\"1700000000\"")]
    [InlineData("-1")]
    [InlineData("1e20")]
    [InlineData("true")]
    [InlineData("null")]
    [InlineData("[1700000000]")]
    [InlineData("{}")]
    [InlineData("253402300800")]
    public void Verify_MalformedAuthTime_IsBadDateLikeIat(string value)
    {
        var now = DateTimeOffset.UtcNow;
        var authTime = TokenFactory.Sign(Key, TokenFactory.Header(Key), TokenFactory.Payload(now, $",\"auth_time\":{value}"));
        var iat = TokenFactory.Sign(Key, TokenFactory.Header(Key),
            $$"""{"iss":"{{TokenFactory.Issuer}}","aud":"{{TokenFactory.Audience}}","exp":{{now.ToUnixTimeSeconds() + 600}},"iat":{{value}}}""");

        Assert.Equal(VerifyFailure.BadDate, Verifier().Verify(iat).Failure);
        Assert.Equal(VerifyFailure.BadDate, Verifier().Verify(authTime).Failure);
    }

    [Fact]
    public void Verify_FractionalAuthTime_IsTruncatedLikeIat()
    {
        var now = DateTimeOffset.UtcNow;
        var token = TokenFactory.Sign(Key, TokenFactory.Header(Key), TokenFactory.Payload(now, ",\"auth_time\":1700000000.75"));

        var result = Verifier().Verify(token);

        Assert.True(result.IsValid, result.Failure.ToString());
        Assert.Equal(1700000000, result.GetAccessClaims().AuthTimeUnixSeconds);
    }

    [Fact]
    public void Verify_DuplicateOrEscapedDuplicateAuthTime_IsMalformed()
    {
        var now = DateTimeOffset.UtcNow;
        var twice = TokenFactory.Sign(Key, TokenFactory.Header(Key), TokenFactory.Payload(now, ",\"auth_time\":1,\"auth_time\":2"));
        var escaped = TokenFactory.Sign(Key, TokenFactory.Header(Key), TokenFactory.Payload(now, ",\"auth_time\":1,\"auth\\u005ftime\":2"));

        Assert.Equal(VerifyFailure.Malformed, Verifier().Verify(twice).Failure);
        Assert.Equal(VerifyFailure.Malformed, Verifier().Verify(escaped).Failure);
    }

    [Fact]
    public void Verify_NestedAuthTime_IsNotTheClaim()
    {
        var now = DateTimeOffset.UtcNow;
        var token = TokenFactory.Sign(Key, TokenFactory.Header(Key), TokenFactory.Payload(now, ",\"ext\":{\"auth_time\":\"any\"}"));

        var result = Verifier().Verify(token);

        Assert.True(result.IsValid, result.Failure.ToString());
        Assert.Null(result.GetAccessClaims().AuthTimeUnixSeconds);
    }
}
