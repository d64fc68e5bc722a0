using System.Text;
using Bouncer.Tokens;

namespace Bouncer.Tests.Tokens;

public sealed class JwsVerifierTests
{
    private readonly ManualClock _clock = new();

    private JwsVerifier Verifier(SigningKey key, VerifyOptions? options = null) =>
        new(JwkSet.Create([key]), options ?? TokenFactory.Options(), _clock);

    private string Valid(SigningKey key, string extra = "") =>
        TokenFactory.Sign(key, TokenFactory.Header(key), TokenFactory.Payload(_clock.GetUtcNow(), extra));

    [Theory]
    [MemberData(nameof(TestKeys.All), MemberType = typeof(TestKeys))]
    public void Verify_ValidToken_IsValidWithClaims(JwsAlgorithm alg)
    {
        var key = TestKeys.For(alg);
        var result = Verifier(key).Verify(Valid(key));
        Assert.Equal(VerifyFailure.None, result.Failure);
        Assert.True(result.IsValid);
        Assert.Equal("user-1", result.GetSubject());
        Assert.Equal("j1", result.GetJwtId());
        Assert.Equal("s1", result.GetSessionId());
        Assert.Same(key, result.Key);
        Assert.Equal(_clock.GetUtcNow().ToUnixTimeSeconds() + 600, result.ExpiresAt.ToUnixTimeSeconds());
    }

    [Theory]
    [MemberData(nameof(TestKeys.All), MemberType = typeof(TestKeys))]
    public void Verify_TamperedPayload_IsBadSignature(JwsAlgorithm alg)
    {
        var key = TestKeys.For(alg);
        var parts = Valid(key).Split('.');
        string forged = parts[0] + "." + TokenFactory.B64(TokenFactory.Payload(_clock.GetUtcNow(), ",\"roles\":[\"admin\"]")) + "." + parts[2];
        Assert.Equal(VerifyFailure.BadSignature, Verifier(key).Verify(forged).Failure);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("None")]
    [InlineData("NONE")]
    [InlineData("nOnE")]
    [InlineData("n\\u006fne")]
    public void Verify_AlgNone_IsRefused(string alg)
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        string token = TokenFactory.B64($$"""{"alg":"{{alg}}","kid":"{{key.KeyId}}","typ":"at+jwt"}""") + "." +
                       TokenFactory.B64(TokenFactory.Payload(_clock.GetUtcNow())) + ".AAAA";
        Assert.Equal(VerifyFailure.AlgNotAllowed, Verifier(key).Verify(token).Failure);
        Assert.Equal(VerifyFailure.Malformed, Verifier(key).Verify(token[..^4]).Failure);
    }

    [Theory]
    [InlineData("HS512")]
    [InlineData("RS384")]
    [InlineData("ES256K")]
    [InlineData("hs256")]
    public void Verify_UnknownAlg_IsRefused(string alg)
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        string token = TokenFactory.SignEncoded(key, TokenFactory.B64($$"""{"alg":"{{alg}}","kid":"{{key.KeyId}}","typ":"at+jwt"}"""),
            TokenFactory.B64(TokenFactory.Payload(_clock.GetUtcNow())));
        Assert.Equal(VerifyFailure.AlgNotAllowed, Verifier(key).Verify(token).Failure);
    }

    [Fact]
    public void Verify_HmacSignedWithRsaPublicKey_IsAlgNotAllowed()
    {
        // The classic key-confusion attack: HS256 keyed with the RSA public key's bytes, kid of the RSA key.
        var rsa = TestKeys.For(JwsAlgorithm.RS256);
        var publicBytes = Encoding.UTF8.GetBytes(JwkSet.Create([rsa]).ToPublicJson());
        var confused = SigningKey.FromJwk(new Jwk { Kty = "oct", Alg = "HS256", Kid = rsa.KeyId, K = System.Buffers.Text.Base64Url.EncodeToString(publicBytes) });
        string token = TokenFactory.Sign(confused, TokenFactory.Header(confused), TokenFactory.Payload(_clock.GetUtcNow()));
        Assert.Equal(VerifyFailure.AlgNotAllowed, Verifier(rsa).Verify(token).Failure);
    }

    [Fact]
    public void Verify_HeaderAlgDiffersFromPinnedAlg_IsAlgNotAllowed()
    {
        // An RS256 key presented a PS256 header: same key type, still refused, the key is pinned to RS256.
        var rs = TestKeys.For(JwsAlgorithm.RS256);
        string token = TokenFactory.SignEncoded(rs, TokenFactory.B64($$"""{"alg":"PS256","kid":"{{rs.KeyId}}","typ":"at+jwt"}"""),
            TokenFactory.B64(TokenFactory.Payload(_clock.GetUtcNow())));
        Assert.Equal(VerifyFailure.AlgNotAllowed, Verifier(rs).Verify(token).Failure);
    }

    [Fact]
    public void Verify_UnknownKid_IsRefused()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        var other = SigningKey.Generate(JwsAlgorithm.HS256, "other");
        Assert.Equal(VerifyFailure.UnknownKid, Verifier(other).Verify(Valid(key)).Failure);
    }

    [Fact]
    public void Verify_NoKidWithOneKey_IsValid()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        string token = TokenFactory.Sign(key, """{"alg":"HS256","typ":"at+jwt"}""", TokenFactory.Payload(_clock.GetUtcNow()));
        Assert.True(Verifier(key).Verify(token).IsValid);
    }

    [Fact]
    public void Verify_NoKidWithSeveralKeys_IsUnknownKid()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        var verifier = new JwsVerifier(JwkSet.Create([key, SigningKey.Generate(JwsAlgorithm.HS256, "b")]), TokenFactory.Options(), _clock);
        string token = TokenFactory.Sign(key, """{"alg":"HS256","typ":"at+jwt"}""", TokenFactory.Payload(_clock.GetUtcNow()));
        Assert.Equal(VerifyFailure.UnknownKid, verifier.Verify(token).Failure);
    }

    [Fact]
    public void Verify_KidSelectsAmongSeveralKeys_IsValid()
    {
        var a = SigningKey.Generate(JwsAlgorithm.ES256, "a");
        var b = SigningKey.Generate(JwsAlgorithm.ES256, "b");
        var verifier = new JwsVerifier(JwkSet.Create([a, b]), TokenFactory.Options(), _clock);
        Assert.True(verifier.Verify(Valid(b)).IsValid);
        Assert.True(verifier.Verify(Valid(a)).IsValid);
    }

    [Theory]
    [InlineData("pad")]
    [InlineData("plus")]
    [InlineData("slash")]
    [InlineData("space")]
    [InlineData("newline")]
    [InlineData("trailingBits")]
    [InlineData("length1mod4")]
    public void Verify_NonCanonicalBase64Url_IsMalformed(string variant)
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        string token = Valid(key);
        int dot = token.IndexOf('.');
        string mutated = variant switch
        {
            "pad" => token + "=",
            "plus" => token[..(dot + 1)] + "+" + token[(dot + 2)..],
            "slash" => token[..(dot + 1)] + "/" + token[(dot + 2)..],
            "space" => token[..dot] + " " + token[dot..],
            "newline" => token + "\n",
            "trailingBits" => WithTrailingBit(token),
            _ => token + "AA", // 45 chars: no base64 encoding has a length of 1 mod 4
        };
        Assert.Equal(VerifyFailure.Malformed, Verifier(key).Verify(mutated).Failure);
    }

    // The HS256 signature is 43 chars: its last char carries 2 unused bits. Setting one keeps the decoded bytes the
    // same under a lenient decoder, so only the canonical check refuses it.
    private static string WithTrailingBit(string token)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        int value = alphabet.IndexOf(token[^1]);
        return token[..^1] + alphabet[value | 1];
    }

    [Theory]
    [InlineData("a.b")]
    [InlineData("a.b.c.d")]
    [InlineData("..")]
    [InlineData("")]
    [InlineData("e30.e30.")]
    [InlineData(".e30.AAAA")]
    public void Verify_WrongStructure_IsMalformed(string token)
    {
        Assert.Equal(VerifyFailure.Malformed, Verifier(TestKeys.For(JwsAlgorithm.HS256)).Verify(token).Failure);
    }

    [Fact]
    public void Verify_CritHeader_IsCritUnsupported()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        string token = TokenFactory.Sign(key, $$"""{"alg":"HS256","kid":"{{key.KeyId}}","typ":"at+jwt","crit":["exp"]}""", TokenFactory.Payload(_clock.GetUtcNow()));
        Assert.Equal(VerifyFailure.CritUnsupported, Verifier(key).Verify(token).Failure);
    }

    [Theory]
    [InlineData("\"jku\":\"https://evil.example/jwks\"")]
    [InlineData("\"x5u\":\"https://evil.example/cert\"")]
    [InlineData("\"jwk\":{\"kty\":\"oct\",\"k\":\"AAAA\"}")]
    [InlineData("\"x5c\":[\"MIIB\"]")]
    public void Verify_KeyBearingHeader_IsUntrustedKeyHeader(string member)
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        string token = TokenFactory.Sign(key, $$"""{"alg":"HS256","kid":"{{key.KeyId}}","typ":"at+jwt",{{member}}}""", TokenFactory.Payload(_clock.GetUtcNow()));
        Assert.Equal(VerifyFailure.UntrustedKeyHeader, Verifier(key).Verify(token).Failure);
    }

    [Theory]
    [InlineData("\"b64\":false")]
    [InlineData("\"zip\":\"DEF\"")]
    [InlineData("\"enc\":\"A256GCM\"")]
    public void Verify_HeaderMemberChangingHowTokenIsRead_IsUnsupportedHeader(string member)
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        string token = TokenFactory.Sign(key, $$"""{"alg":"HS256","kid":"{{key.KeyId}}","typ":"at+jwt",{{member}}}""", TokenFactory.Payload(_clock.GetUtcNow()));
        Assert.Equal(VerifyFailure.UnsupportedHeader, Verifier(key).Verify(token).Failure);
    }

    [Theory]
    [InlineData("""{"alg":"HS256","alg":"HS256","typ":"at+jwt"}""")]
    [InlineData("""{"alg":"HS256","typ":"at+jwt","typ":"at+jwt"}""")]
    [InlineData("""{"alg":"HS256","typ":"at+jwt"} """ + "x")]
    [InlineData("""["alg","HS256"]""")]
    [InlineData("""{"alg":"HS256","typ":"at+jwt",}""")]
    public void Verify_MalformedHeaderJson_IsMalformed(string header)
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        string token = TokenFactory.Sign(key, header, TokenFactory.Payload(_clock.GetUtcNow()));
        Assert.Equal(VerifyFailure.Malformed, Verifier(key).Verify(token).Failure);
    }

    [Theory]
    [InlineData(",\"sub\":\"admin\"")]
    [InlineData(",\"\\u0073ub\":\"admin\"")]
    [InlineData(",\"exp\":99999999999")]
    [InlineData(",\"x\":{\"a\":1,\"a\":2}")]
    public void Verify_DuplicatePayloadMember_IsMalformed(string extra)
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        Assert.Equal(VerifyFailure.Malformed, Verifier(key).Verify(Valid(key, extra)).Failure);
    }

    [Fact]
    public void Verify_ManyMembers_DuplicateBeyondStackCapacityIsFound()
    {
        // More custom members than fit the on-stack name table: the check continues in a pooled one.
        var key = TestKeys.For(JwsAlgorithm.HS256);
        string many = string.Concat(Enumerable.Range(0, 40).Select(i => $",\"c{i}\":{i}"));
        Assert.True(Verifier(key).Verify(Valid(key, many)).IsValid);
        Assert.Equal(VerifyFailure.Malformed, Verifier(key).Verify(Valid(key, many + ",\"c3\":0")).Failure);
    }

    [Fact]
    public void Verify_TooManyMembers_IsMalformed()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        string many = string.Concat(Enumerable.Range(0, 300).Select(i => $",\"{i}\":0"));
        Assert.Equal(VerifyFailure.Malformed, Verifier(key).Verify(Valid(key, many)).Failure);
    }

    [Fact]
    public void Verify_SameNameInSiblingObjects_IsValid()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        Assert.True(Verifier(key).Verify(Valid(key, ",\"x\":{\"a\":1},\"y\":{\"a\":2}")).IsValid);
    }

    [Fact]
    public void Verify_TokenOverSizeCap_IsTooLargeBeforeParsing()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        var verifier = Verifier(key, new VerifyOptions { Issuer = TokenFactory.Issuer, Audience = TokenFactory.Audience, MaxTokenBytes = 256 });
        // Not even a JWS: the cap is checked before structure.
        Assert.Equal(VerifyFailure.TooLarge, verifier.Verify(new string('!', 257)).Failure);
        Assert.Equal(VerifyFailure.TooLarge, verifier.Verify(new byte[257]).Failure);
        Assert.Equal(VerifyFailure.TooLarge, Verifier(key).Verify(Valid(key, $",\"pad\":\"{new string('a', 8192)}\"")).Failure);
    }

    [Fact]
    public void Verify_DeepNesting_IsTooDeep()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        string nested = new string('[', 20) + new string(']', 20);
        Assert.Equal(VerifyFailure.TooDeep, Verifier(key).Verify(Valid(key, $",\"n\":{nested}")).Failure);
        // Depth 8 (the default) is fine: payload object + 7 arrays.
        string ok = new string('[', 7) + new string(']', 7);
        Assert.True(Verifier(key).Verify(Valid(key, $",\"n\":{ok}")).IsValid);
    }

    [Theory]
    [InlineData("at+jwt", true)]
    [InlineData("application/at+jwt", true)]
    [InlineData("AT+JWT", true)]
    [InlineData("at\\u002bjwt", true)]
    [InlineData("JWT", false)]
    [InlineData("jwt", false)]
    [InlineData("", false)]
    [InlineData("application/jwt", false)]
    public void Verify_Typ_OnlyAccessTokenTypeAccepted(string typ, bool valid)
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        string token = TokenFactory.Sign(key, TokenFactory.Header(key, typ), TokenFactory.Payload(_clock.GetUtcNow()));
        var failure = Verifier(key, TokenFactory.Options(requireTyp: false)).Verify(token).Failure;
        Assert.Equal(valid ? VerifyFailure.None : VerifyFailure.BadTyp, failure);
    }

    [Fact]
    public void Verify_MissingTyp_DependsOnRequireTyp()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        string token = TokenFactory.Sign(key, TokenFactory.Header(key, typ: null), TokenFactory.Payload(_clock.GetUtcNow()));
        Assert.Equal(VerifyFailure.BadTyp, Verifier(key).Verify(token).Failure);
        Assert.True(Verifier(key, TokenFactory.Options(requireTyp: false)).Verify(token).IsValid);
    }

    [Fact]
    public void Verify_EcdsaZeroSignature_IsBadSignature()
    {
        var key = TestKeys.For(JwsAlgorithm.ES256);
        var parts = Valid(key).Split('.');
        string psychic = parts[0] + "." + parts[1] + "." + System.Buffers.Text.Base64Url.EncodeToString(new byte[64]);
        Assert.Equal(VerifyFailure.BadSignature, Verifier(key).Verify(psychic).Failure);
    }

    [Fact]
    public void Verify_EcdsaDerSignature_IsBadSignature()
    {
        var key = TestKeys.For(JwsAlgorithm.ES256);
        var parts = Valid(key).Split('.');
        var p1363 = System.Buffers.Text.Base64Url.DecodeFromChars(parts[2]);
        var der = ToDer(p1363);
        string token = parts[0] + "." + parts[1] + "." + System.Buffers.Text.Base64Url.EncodeToString(der);
        Assert.Equal(VerifyFailure.BadSignature, Verifier(key).Verify(token).Failure);
    }

    private static byte[] ToDer(byte[] p1363)
    {
        using var ec = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        // Re-encode r || s as an ASN.1 SEQUENCE of two INTEGERs, the form some libraries emit by mistake.
        var writer = new System.Formats.Asn1.AsnWriter(System.Formats.Asn1.AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteIntegerUnsigned(p1363.AsSpan(0, 32));
            writer.WriteIntegerUnsigned(p1363.AsSpan(32, 32));
        }
        return writer.Encode();
    }

    [Fact]
    public void Verify_MissingExp_IsMissingExp()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        string token = TokenFactory.Sign(key, TokenFactory.Header(key), $$"""{"iss":"{{TokenFactory.Issuer}}","aud":"{{TokenFactory.Audience}}","sub":"u"}""");
        Assert.Equal(VerifyFailure.MissingExp, Verifier(key).Verify(token).Failure);
    }

    [Fact]
    public void Verify_ExpiredBeyondSkew_IsTokenExpired()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        string token = Valid(key);
        var verifier = Verifier(key);
        _clock.Advance(TimeSpan.FromSeconds(600 + 29));
        Assert.True(verifier.Verify(token).IsValid);
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(VerifyFailure.TokenExpired, verifier.Verify(token).Failure);
    }

    [Fact]
    public void Verify_NotBeforeInFuture_IsNotYetValid()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        long now = _clock.GetUtcNow().ToUnixTimeSeconds();
        Assert.Equal(VerifyFailure.NotYetValid, Verifier(key).Verify(Valid(key, $",\"nbf\":{now + 31}")).Failure);
        Assert.True(Verifier(key).Verify(Valid(key, $",\"nbf\":{now + 30}")).IsValid);
    }

    [Fact]
    public void Verify_IssuedInFuture_IsIssuedInFuture()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        long now = _clock.GetUtcNow().ToUnixTimeSeconds();
        string token = TokenFactory.Sign(key, TokenFactory.Header(key),
            $$"""{"iss":"{{TokenFactory.Issuer}}","aud":"{{TokenFactory.Audience}}","exp":{{now + 600}},"iat":{{now + 120}}}""");
        Assert.Equal(VerifyFailure.IssuedInFuture, Verifier(key).Verify(token).Failure);
    }

    [Fact]
    public void Verify_CustomSkew_IsHonoured()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        string token = Valid(key);
        var strict = Verifier(key, new VerifyOptions { Issuer = TokenFactory.Issuer, Audience = TokenFactory.Audience, ClockSkew = TimeSpan.Zero });
        _clock.Advance(TimeSpan.FromSeconds(600));
        Assert.Equal(VerifyFailure.TokenExpired, strict.Verify(token).Failure);
    }

    [Theory]
    [InlineData("\"soon\"")]
    [InlineData("-1")]
    [InlineData("1e20")]
    [InlineData("true")]
    [InlineData("null")]
    [InlineData("[1]")]
    [InlineData("253402300800")]
    public void Verify_BadNumericDate_IsBadDate(string exp)
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        string token = TokenFactory.Sign(key, TokenFactory.Header(key), $$"""{"iss":"{{TokenFactory.Issuer}}","aud":"{{TokenFactory.Audience}}","exp":{{exp}}}""");
        Assert.Equal(VerifyFailure.BadDate, Verifier(key).Verify(token).Failure);
    }

    [Fact]
    public void Verify_FractionalExp_IsAccepted()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        long now = _clock.GetUtcNow().ToUnixTimeSeconds();
        string token = TokenFactory.Sign(key, TokenFactory.Header(key), $$"""{"iss":"{{TokenFactory.Issuer}}","aud":"{{TokenFactory.Audience}}","exp":{{now + 60}}.5}""");
        Assert.True(Verifier(key).Verify(token).IsValid);
    }

    [Theory]
    [InlineData("\"iss\":\"https://evil.example\"")]
    [InlineData("\"iss\":\"https://ID.example\"")]
    [InlineData("\"iss\":\"https://id.example/\"")]
    [InlineData("\"iss\":1")]
    [InlineData("")]
    public void Verify_WrongIssuer_IsBadIssuer(string iss)
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        long now = _clock.GetUtcNow().ToUnixTimeSeconds();
        string sep = iss.Length == 0 ? "" : ",";
        string token = TokenFactory.Sign(key, TokenFactory.Header(key), $$"""{"aud":"{{TokenFactory.Audience}}","exp":{{now + 60}}{{sep}}{{iss}}}""");
        Assert.Equal(VerifyFailure.BadIssuer, Verifier(key).Verify(token).Failure);
    }

    [Theory]
    [InlineData("\"aud\":\"api\"", true)]
    [InlineData("\"aud\":[\"other\",\"api\"]", true)]
    [InlineData("\"aud\":[\"other\"]", false)]
    [InlineData("\"aud\":\"API\"", false)]
    [InlineData("\"aud\":[]", false)]
    [InlineData("\"aud\":[\"api\",1]", false)]
    [InlineData("\"aud\":{\"api\":1}", false)]
    [InlineData("\"x\":1", false)]
    public void Verify_Audience_MustContainOurs(string aud, bool valid)
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        long now = _clock.GetUtcNow().ToUnixTimeSeconds();
        string token = TokenFactory.Sign(key, TokenFactory.Header(key), $$"""{"iss":"{{TokenFactory.Issuer}}","exp":{{now + 60}},{{aud}}}""");
        Assert.Equal(valid ? VerifyFailure.None : VerifyFailure.BadAudience, Verifier(key).Verify(token).Failure);
    }

    [Fact]
    public void Verify_InvalidUtf8InPayload_IsMalformed()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        var payload = Encoding.UTF8.GetBytes(TokenFactory.Payload(_clock.GetUtcNow(), ",\"x\":\"??\""));
        int at = Array.IndexOf(payload, (byte)'?');
        payload[at] = 0xC3;
        payload[at + 1] = 0x28; // not a continuation byte
        string token = TokenFactory.SignEncoded(key, TokenFactory.B64(TokenFactory.Header(key)), System.Buffers.Text.Base64Url.EncodeToString(payload));
        Assert.Equal(VerifyFailure.Malformed, Verifier(key).Verify(token).Failure);
    }

    [Fact]
    public void Verify_PayloadNotAnObject_IsMalformed()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        foreach (var payload in new[] { "[]", "\"x\"", "{}x", "{\"exp\":1", "not json" })
            Assert.Equal(VerifyFailure.Malformed, Verifier(key).Verify(TokenFactory.Sign(key, TokenFactory.Header(key), payload)).Failure);
    }

    [Fact]
    public void Verify_RandomMutations_NeverThrow()
    {
        var random = new Random(1234);
        foreach (var alg in Enum.GetValues<JwsAlgorithm>())
        {
            var key = TestKeys.For(alg);
            var verifier = Verifier(key);
            var bytes = Encoding.UTF8.GetBytes(Valid(key));
            for (int i = 0; i < 300; i++)
            {
                var mutated = (byte[])bytes.Clone();
                int edits = random.Next(1, 4);
                for (int e = 0; e < edits; e++) mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
                var result = verifier.Verify(mutated.AsSpan(0, random.Next(mutated.Length + 1)));
                Assert.NotEqual(VerifyFailure.None, result.Failure);
            }
        }
    }

    [Fact]
    public void Verify_StringAndSpanOverloads_Agree()
    {
        var key = TestKeys.For(JwsAlgorithm.ES256);
        string token = Valid(key);
        var fromString = Verifier(key).Verify(token);
        var fromBytes = Verifier(key).Verify(Encoding.UTF8.GetBytes(token));
        Assert.True(fromString.IsValid);
        Assert.True(fromBytes.IsValid);
        Assert.Equal(fromString.GetPayloadJson(), fromBytes.GetPayloadJson());
        Assert.Equal(VerifyFailure.Malformed, Verifier(key).Verify(token + "é").Failure);
    }

    [Fact]
    public void ToClaims_ValidToken_CopiesClaims()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        var claims = Verifier(key).Verify(Valid(key, ",\"roles\":[\"admin\",\"ops\"],\"scope\":\"read write\"")).ToClaims();
        Assert.Equal("user-1", claims.Subject);
        Assert.Equal(["admin", "ops"], claims.Roles);
        Assert.Equal("read write", claims.Scope);
        Assert.Equal([TokenFactory.Audience], claims.Audiences);
        Assert.Equal(TokenFactory.Issuer, claims.Issuer);
        Assert.Contains("\"roles\"", claims.PayloadJson);
    }

    [Fact]
    public void ToClaims_InvalidToken_Throws()
    {
        var result = Verifier(TestKeys.For(JwsAlgorithm.HS256)).Verify("x.y.z");
        Assert.False(result.IsValid);
        try
        {
            result.ToClaims();
            Assert.Fail("expected InvalidOperationException");
        }
        catch (InvalidOperationException)
        {
        }
    }

    [Fact]
    public void Verify_HeaderSeenBefore_StillChecksSignatureAndClaims()
    {
        // A header segment that already passed is parsed from a cache; everything after the header must still run.
        var key = TestKeys.For(JwsAlgorithm.HS256);
        var verifier = Verifier(key);
        string token = Valid(key);
        Assert.True(verifier.Verify(token).IsValid);
        Assert.True(verifier.Verify(token).IsValid);
        var parts = token.Split('.');
        string forged = parts[0] + "." + TokenFactory.B64(TokenFactory.Payload(_clock.GetUtcNow(), ",\"roles\":[\"admin\"]")) + "." + parts[2];
        Assert.Equal(VerifyFailure.BadSignature, verifier.Verify(forged).Failure);
        _clock.Advance(TimeSpan.FromHours(1));
        Assert.Equal(VerifyFailure.TokenExpired, verifier.Verify(token).Failure);
    }

    [Theory]
    [InlineData(",\"\\u0065xp\":1")]
    [InlineData(",\"\\u0069ss\":\"https://id.example\"")]
    public void Verify_EscapedDuplicateOfRegisteredClaim_IsMalformed(string extra)
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        Assert.Equal(VerifyFailure.Malformed, Verifier(key).Verify(Valid(key, extra)).Failure);
    }

    // A lone surrogate escape is valid JSON syntax but no string: the reader throws InvalidOperationException (not
    // JsonException) when asked to compare or copy it. Header members are read before the signature is checked.
    [Theory]
    [InlineData("{\"\\ud800\":1}")]
    [InlineData("{\"alg\":\"\\ud800\"}")]
    [InlineData("{\"alg\":\"HS256\",\"kid\":\"\\udfff\"}")]
    [InlineData("{\"alg\":\"HS256\",\"typ\":\"\\ud800\"}")]
    [InlineData("{\"alg\":\"HS256\",\"\\ud800x\":\"y\"}")]
    public void Verify_LoneSurrogateInHeader_FailsWithoutThrowing(string header)
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        string token = TokenFactory.B64(header) + "." + TokenFactory.B64(TokenFactory.Payload(_clock.GetUtcNow())) + ".AAAA";
        var result = Verifier(key).Verify(token);
        Assert.False(result.IsValid);
        Assert.False(Verifier(key).Verify(System.Text.Encoding.ASCII.GetBytes(token)).IsValid);
    }

    [Theory]
    [InlineData(",\"\\ud800\":1")]
    [InlineData(",\"x\":{\"\\ud800\":1,\"\\ud800\":2}")]
    [InlineData(",\"\\ud800\":1,\"\\ud800\":2")]
    [InlineData(",\"scope\":\"read \\ud800\"")]
    [InlineData(",\"roles\":[\"\\udc00\"]")]
    [InlineData(",\"x\":{\"y\":\"\\ud83d\\u0041\"}")]
    public void Verify_LoneSurrogateInSignedPayload_FailsWithoutThrowing(string extra)
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        Assert.Equal(VerifyFailure.Malformed, Verifier(key).Verify(Valid(key, extra)).Failure);
    }

    [Fact]
    public void Verify_LoneSurrogateInSubject_IsMalformed_SoClaimsReadLaterCannotThrow()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        string payload = TokenFactory.Payload(_clock.GetUtcNow()).Replace("\"sub\":\"user-1\"", "\"sub\":\"\\ud800\"");
        Assert.Contains("\\ud800", payload);
        Assert.Equal(VerifyFailure.Malformed, Verifier(key).Verify(TokenFactory.Sign(key, TokenFactory.Header(key), payload)).Failure);
        // A well-formed escaped pair is a real character and stays valid.
        string pair = TokenFactory.Payload(_clock.GetUtcNow()).Replace("\"sub\":\"user-1\"", "\"sub\":\"\\ud83d\\ude00\"");
        var result = Verifier(key).Verify(TokenFactory.Sign(key, TokenFactory.Header(key), pair));
        Assert.True(result.IsValid);
        Assert.Equal("\U0001F600", result.GetSubject());
    }

    [Theory]
    [InlineData("\"iss\":\"\\ud800\"", VerifyFailure.BadIssuer)]
    [InlineData("\"aud\":\"\\ud800\"", VerifyFailure.BadAudience)]
    [InlineData("\"aud\":[\"\\ud800\"]", VerifyFailure.BadAudience)]
    [InlineData("\"aud\":[\"api\",\"\\ud800\"]", VerifyFailure.Malformed)]   // our audience first: was accepted, then threw on reading
    [InlineData("\"aud\":\"\\u0061pi\"", VerifyFailure.None)]                  // a well-formed escape of our audience is our audience
    public void Verify_LoneSurrogateInIssuerOrAudience_IsRefused(string member, VerifyFailure expected)
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        long now = _clock.GetUtcNow().ToUnixTimeSeconds();
        string name = member[1..4];
        string payload = "{" + member + (name == "iss" ? ",\"aud\":\"api\"" : ",\"iss\":\"https://id.example\"") + $",\"exp\":{now + 600}}}";
        var result = Verifier(key).Verify(TokenFactory.Sign(key, TokenFactory.Header(key), payload));
        if (expected == VerifyFailure.None)
        {
            Assert.True(result.IsValid);
            Assert.Equal(["api"], result.ToClaims().Audiences);
            return;
        }
        Assert.False(result.IsValid);
        Assert.Contains(result.Failure, new[] { expected, VerifyFailure.Malformed });
    }

    [Fact]
    public void ToCode_EveryFailure_IsDistinctSnakeCase()
    {
        var codes = Enum.GetValues<VerifyFailure>().Select(f => f.ToCode()).ToList();
        Assert.Equal(codes.Count, codes.Distinct().Count());
        Assert.All(codes, c => Assert.Matches("^[a-z]+(_[a-z]+)*$", c));
        Assert.Equal("token_expired", VerifyFailure.TokenExpired.ToCode());
        Assert.Equal("bad_signature", VerifyFailure.BadSignature.ToCode());
    }

    [Fact]
    public void Constructor_MissingIssuer_Throws()
    {
        Assert.Throws<ArgumentException>(() => new JwsVerifier(JwkSet.Create([TestKeys.For(JwsAlgorithm.HS256)]),
            new VerifyOptions { Issuer = "", Audience = "a" }));
    }
}
