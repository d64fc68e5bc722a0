using Bouncer.Tokens;

namespace Bouncer.Core.Tests.Tokens;

public sealed class AccessClaimsTests
{
    [Fact]
    public void GetAccessClaims_IssuedToken_MatchesToClaims()
    {
        var key = SigningKey.Generate(JwsAlgorithm.HS256, "k1");
        var issuer = new JwsIssuer(key, new IssueOptions { Issuer = "https://id.example", Audience = "api" });
        var token = issuer.Issue(new TokenRequest { Subject = "zoë", SessionId = "s-1", Roles = ["admin", "ops"], Scope = "read write", JwtId = "j-1" });
        var verifier = new JwsVerifier(JwkSet.Create([key]), new VerifyOptions { Issuer = "https://id.example", Audience = "api" });

        var result = verifier.Verify(token);
        var lean = result.GetAccessClaims();
        var full = result.ToClaims();

        Assert.Equal(("zoë", "s-1", "j-1", "read write"), (lean.Subject, lean.SessionId, lean.JwtId, lean.Scope));
        Assert.Equal(["admin", "ops"], lean.Roles);
        Assert.Equal(full.IssuedAt!.Value.ToUnixTimeSeconds(), lean.IssuedAtUnixSeconds);
        Assert.Equal((full.Subject, full.SessionId, full.JwtId, full.Scope), (lean.Subject, lean.SessionId, lean.JwtId, lean.Scope));
    }

    [Fact]
    public void GetAccessClaims_NoOptionalClaims_GivesNullsAndNoRoles()
    {
        var key = SigningKey.Generate(JwsAlgorithm.HS256, "k1");
        var issuer = new JwsIssuer(key, new IssueOptions { Issuer = "https://id.example", Audience = "api" });
        var verifier = new JwsVerifier(JwkSet.Create([key]), new VerifyOptions { Issuer = "https://id.example", Audience = "api" });

        var claims = verifier.Verify(issuer.Issue(new TokenRequest { Subject = "alice" })).GetAccessClaims();

        Assert.Equal("alice", claims.Subject);
        Assert.Null(claims.SessionId);
        Assert.Null(claims.Scope);
        Assert.NotNull(claims.JwtId);
        Assert.Empty(claims.Roles);
    }
}
