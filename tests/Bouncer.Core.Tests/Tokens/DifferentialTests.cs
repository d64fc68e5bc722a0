using System.Text;
using Bouncer.Tokens;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Bouncer.Tests.Tokens;

/// <summary>
/// Bouncer against Microsoft.IdentityModel.JsonWebTokens 8.23.0 on the same random valid and corrupted tokens: every
/// token Bouncer accepts, IdentityModel accepts too (Bouncer is never the more lenient one). EdDSA is left out:
/// IdentityModel 8.x has no Ed25519.
/// </summary>
public sealed class DifferentialTests
{
    public static TheoryData<JwsAlgorithm> Algorithms => new(JwsAlgorithm.HS256, JwsAlgorithm.RS256, JwsAlgorithm.PS256, JwsAlgorithm.ES256);

    [Theory]
    [MemberData(nameof(Algorithms))]
    public async Task Verify_RandomTokens_BouncerAcceptsOnlyWhatIdentityModelAccepts(JwsAlgorithm alg)
    {
        var key = TestKeys.For(alg);
        var bouncer = new JwsVerifier(JwkSet.Create([key]), TokenFactory.Options(), TimeProvider.System);
        var handler = new JsonWebTokenHandler();
        string jwkJson = key.IsSymmetric ? ToJson(key.ToJwk(includePrivate: true), true) : ToJson(key.ToJwk(includePrivate: false), false);
        var parameters = new TokenValidationParameters
        {
            ValidIssuer = TokenFactory.Issuer,
            ValidAudience = TokenFactory.Audience,
            IssuerSigningKey = new JsonWebKey(jwkJson),
            ValidAlgorithms = [alg.Name()],
            ValidTypes = ["at+jwt", "application/at+jwt"],
            ClockSkew = TimeSpan.FromSeconds(30),
            RequireExpirationTime = true,
            RequireSignedTokens = true,
        };

        var random = new Random(20261123 + (int)alg);
        int bouncerAccepted = 0, pristine = 0;
        for (int i = 0; i < 150; i++)
        {
            var now = DateTimeOffset.UtcNow;
            long expIn = random.Next(4) == 0 ? -random.Next(31, 5000) : random.Next(60, 3600);
            string extra = random.Next(3) switch
            {
                0 => "",
                1 => $",\"roles\":[\"r{random.Next(100)}\"]",
                _ => $",\"scope\":\"read\",\"n\":{{\"a\":[1,2,{{\"b\":null}}]}}",
            };
            string typ = random.Next(5) == 0 ? "JWT" : "at+jwt";
            // Unknown header members (RFC 7515 4: ignored unless crit names them), as outside issuers send them.
            string header = TokenFactory.Header(key, typ);
            header = random.Next(3) switch
            {
                0 => header,
                1 => header[..^1] + ",\"x5t\":\"nOo3ZDrODXEK1jKWhXslHR_KXEg\"}",
                _ => header[..^1] + ",\"custom\":\"v\",\"ext\":{\"a\":[1,{\"b\":null}]}}",
            };
            string token = TokenFactory.Sign(key, header, TokenFactory.Payload(now, extra, expIn));
            var candidates = new List<string> { token };
            for (int m = 0; m < 4; m++) candidates.Add(Corrupt(token, random));

            foreach (var candidate in candidates)
            {
                bool ours = bouncer.Verify(candidate).IsValid;
                if (!ours) continue;
                bouncerAccepted++;
                if (candidate == token) pristine++;
                var theirs = await handler.ValidateTokenAsync(candidate, parameters);
                Assert.True(theirs.IsValid, $"Bouncer accepted, IdentityModel refused ({theirs.Exception?.GetType().Name}): {candidate}");
            }
        }
        // The comparison is only meaningful if Bouncer accepted a fair share of the unmodified tokens.
        Assert.True(pristine > 50, $"only {pristine} pristine tokens accepted");
        Assert.True(bouncerAccepted >= pristine);
    }

    private static string Corrupt(string token, Random random)
    {
        var parts = token.Split('.');
        switch (random.Next(7))
        {
            case 0:
            {
                var chars = token.ToCharArray();
                int at = random.Next(chars.Length);
                if (chars[at] != '.') chars[at] = chars[at] == 'A' ? 'B' : 'A';
                return new string(chars);
            }
            case 1: return parts[0] + "." + parts[1] + ".";
            case 2: return parts[0] + "." + parts[1] + "." + parts[2] + "=";
            case 3: return TokenFactory.B64("""{"alg":"none","typ":"at+jwt"}""") + "." + parts[1] + ".";
            case 4: return parts[1] + "." + parts[0] + "." + parts[2];
            case 5: return token[..random.Next(token.Length)];
            default: return TokenFactory.B64("""{"alg":"HS256","typ":"at+jwt"}""") + "." + parts[1] + "." + parts[2];
        }
    }

    private static string ToJson(Jwk jwk, bool includePrivate)
    {
        using var stream = new MemoryStream();
        using (var writer = new System.Text.Json.Utf8JsonWriter(stream)) jwk.WriteTo(writer, includePrivate);
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
