using System.Text;
using Bouncer.Tokens;

namespace Bouncer.Tests.Tokens;

/// <summary>
/// The verifier's one-pass path (verify, then read the access claims from the payload it decoded) gives the verdict of
/// <see cref="JwsVerifier.Verify(ReadOnlySpan{byte})"/> and the claims of <see cref="VerifyResult.GetAccessClaims"/>.
/// </summary>
public sealed class VerifyAccessTests
{
    // TokenFactory.Payload's registered claims without sub, jti and sid, which the cases set themselves.
    private static string Payload(DateTimeOffset now, string extra) =>
        $$"""{"iss":"{{TokenFactory.Options().Issuer}}","aud":"{{TokenFactory.Options().Audience}}","exp":{{now.ToUnixTimeSeconds() + 600}},"iat":{{now.ToUnixTimeSeconds()}}{{extra}}}""";

    [Theory]
    [InlineData(",\"sub\":\"alice\",\"sid\":\"s1\",\"jti\":\"j1\",\"scope\":\"read write\",\"roles\":[\"a\",\"b\"]")]
    [InlineData(",\"sub\":\"caf\\u00e9\",\"roles\":[],\"auth_time\":1700000000,\"cnf\":{\"jkt\":\"abc\"}")]
    [InlineData(",\"sub\":\"bob\",\"cnf\":\"not an object\",\"other\":{\"sub\":\"nested\"}")]
    [InlineData(",\"jti\":\"no subject\"")]
    public void VerifyAccess_ValidToken_SameClaimsAsGetAccessClaims(string extra)
    {
        var clock = new ManualClock();
        var key = TestKeys.For(JwsAlgorithm.HS256);
        var verifier = new JwsVerifier(JwkSet.Create([key]), TokenFactory.Options(), clock);
        byte[] token = Encoding.UTF8.GetBytes(TokenFactory.Sign(key, TokenFactory.Header(key), Payload(clock.GetUtcNow(), extra)));

        var expected = verifier.Verify(token).GetAccessClaims();
        Assert.Equal(VerifyFailure.None, verifier.VerifyAccess(token, out var verifiedBy, out var claims));
        Assert.Same(key, verifiedBy);
        Assert.Equal(expected.Subject, claims.Subject);
        Assert.Equal(expected.SessionId, claims.SessionId);
        Assert.Equal(expected.JwtId, claims.JwtId);
        Assert.Equal(expected.Scope, claims.Scope);
        Assert.Equal(expected.Roles, claims.Roles);
        Assert.Equal(expected.IssuedAtUnixSeconds, claims.IssuedAtUnixSeconds);
        Assert.Equal(expected.AuthTimeUnixSeconds, claims.AuthTimeUnixSeconds);
        Assert.Equal(expected.ConfirmationKeyThumbprint, claims.ConfirmationKeyThumbprint);
    }

    [Theory]
    [InlineData(",\"sub\":\"alice\"", -700, VerifyFailure.TokenExpired)]
    [InlineData(",\"sub\":\"\\ud800\"", 0, VerifyFailure.Malformed)]
    [InlineData(",\"sub\":\"a\",\"sub\":\"b\"", 0, VerifyFailure.Malformed)]
    public void VerifyAccess_RefusedToken_SameFailureAsVerify_NoClaims(string extra, int shift, VerifyFailure failure)
    {
        var clock = new ManualClock();
        var key = TestKeys.For(JwsAlgorithm.HS256);
        var verifier = new JwsVerifier(JwkSet.Create([key]), TokenFactory.Options(), clock);
        byte[] token = Encoding.UTF8.GetBytes(TokenFactory.Sign(key, TokenFactory.Header(key), Payload(clock.GetUtcNow().AddSeconds(shift), extra)));

        Assert.Equal(failure, verifier.Verify(token).Failure);
        Assert.Equal(failure, verifier.VerifyAccess(token, out var verifiedBy, out var claims));
        Assert.Null(verifiedBy);
        Assert.Null(claims.Subject);
    }
}
