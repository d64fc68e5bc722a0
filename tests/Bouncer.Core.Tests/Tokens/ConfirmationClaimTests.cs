using Bouncer.Tokens;

namespace Bouncer.Tests.Tokens;

/// <summary>cnf.jkt (RFC 9449 6.1): written by the issuer for a DPoP-bound token, read into AccessClaims; a malformed cnf still binds.</summary>
public sealed class ConfirmationClaimTests
{
    private static readonly SigningKey Key = TestKeys.For(JwsAlgorithm.HS256);

    private static JwsVerifier Verifier() => new(JwkSet.Create([Key]), TokenFactory.Options());

    [Fact]
    public void Issue_WithThumbprint_WritesCnfJkt_ThatAccessClaimsRead()
    {
        var issuer = new JwsIssuer(Key, new IssueOptions { Issuer = TokenFactory.Issuer, Audience = TokenFactory.Audience });
        var result = Verifier().Verify(issuer.Issue(new TokenRequest { Subject = "alice", ConfirmationKeyThumbprint = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" }));

        Assert.True(result.IsValid, result.Failure.ToString());
        Assert.Contains("\"cnf\":{\"jkt\":\"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I\"}", result.GetPayloadJson());
        Assert.Equal("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", result.GetAccessClaims().ConfirmationKeyThumbprint);
        Assert.Equal("alice", result.GetAccessClaims().Subject);
    }

    [Fact]
    public void Issue_WithoutThumbprint_IsUnbound()
    {
        var issuer = new JwsIssuer(Key, new IssueOptions { Issuer = TokenFactory.Issuer, Audience = TokenFactory.Audience });
        var result = Verifier().Verify(issuer.Issue(new TokenRequest { Subject = "alice" }));

        Assert.DoesNotContain("cnf", result.GetPayloadJson());
        Assert.Null(result.GetAccessClaims().ConfirmationKeyThumbprint);
    }

    [Theory]
    [InlineData("\"jkt\"")]
    [InlineData("{}")]
    [InlineData("{\"jkt\":42}")]
    [InlineData("[\"x\"]")]
    public void MalformedCnf_BindsToNoKey(string cnf)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var token = TokenFactory.Sign(Key, """{"alg":"HS256","typ":"at+jwt"}""",
            $$"""{"iss":"{{TokenFactory.Issuer}}","aud":"{{TokenFactory.Audience}}","sub":"alice","exp":{{now + 600}},"cnf":{{cnf}},"roles":["admin"]}""");
        var result = Verifier().Verify(token);

        Assert.True(result.IsValid, result.Failure.ToString());
        var claims = result.GetAccessClaims();
        Assert.Equal("", claims.ConfirmationKeyThumbprint);
        Assert.Equal(["admin"], claims.Roles);
    }
}
