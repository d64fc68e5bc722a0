using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Bouncer.Tokens;

namespace Bouncer.Tests.Tokens;

public sealed class KeyLoaderTests
{
    private static string B64(byte[] data) => Base64Url.EncodeToString(data);

    private static string Set(params string[] keys) => $$"""{"keys":[{{string.Join(",", keys)}}]}""";

    private static KeyLoadException Refused(string json) => Assert.Throws<KeyLoadException>(() => JwkSet.Parse(json));

    private static JsonObject RsaJwk(int bits, string alg = "RS256")
    {
        using var rsa = RSA.Create(bits);
        var p = rsa.ExportParameters(false);
        return new JsonObject { ["kty"] = "RSA", ["alg"] = alg, ["kid"] = "r", ["n"] = B64(p.Modulus!), ["e"] = B64(p.Exponent!) };
    }

    [Fact]
    public void Parse_Rsa1024_IsRsaTooSmall()
    {
        Assert.Equal("rsa_too_small", Refused(Set(RsaJwk(1024).ToJsonString())).Reason);
    }

    [Theory]
    [InlineData(new byte[] { 3 })]
    [InlineData(new byte[] { 1 })]
    [InlineData(new byte[] { 0x01, 0x00, 0x00 })]   // 65536: even
    [InlineData(new byte[] { 0x01, 0x00, 0x02 })]   // 65538: even
    public void Parse_RsaBadExponent_IsRsaBadExponent(byte[] exponent)
    {
        var jwk = RsaJwk(2048);
        jwk["e"] = B64(exponent);
        Assert.Equal("rsa_bad_exponent", Refused(Set(jwk.ToJsonString())).Reason);
    }

    [Fact]
    public void Parse_RsaRocaModulus_IsRsaRoca()
    {
        // Wycheproof json_web_key_test tcId 7 carries a key from the ROCA-affected generator.
        var group = VectorFiles.Case("json_web_key_test.json", 7).Group;
        Assert.Equal("rsa_roca", Refused(group["private"]!.ToJsonString()).Reason);
    }

    [Fact]
    public void Parse_Rsa2048_Loads()
    {
        Assert.False(JwkSet.Parse(Set(RsaJwk(2048).ToJsonString())).Keys[0].CanSign);
    }

    [Fact]
    public void Parse_EcPointOffCurve_IsEcBadPoint()
    {
        var jwk = JsonNode.Parse(JwkSet.Create([SigningKey.Generate(JwsAlgorithm.ES256, "e")]).ToPublicJson())!["keys"]![0]!.AsObject();
        var y = Base64Url.DecodeFromChars((string)jwk["y"]!);
        y[31] ^= 1;
        jwk["y"] = B64(y);
        Assert.Equal("ec_bad_point", Refused(Set(jwk.ToJsonString())).Reason);
    }

    [Fact]
    public void Parse_EcWrongCurve_IsCurveAlgMismatch()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var p = ec.ExportParameters(false);
        string jwk = $$"""{"kty":"EC","alg":"ES256","crv":"P-384","x":"{{B64(p.Q.X!)}}","y":"{{B64(p.Q.Y!)}}"}""";
        Assert.Equal("curve_alg_mismatch", Refused(Set(jwk)).Reason);
    }

    [Fact]
    public void Parse_HmacKeyUnder256Bits_IsHmacTooShort()
    {
        Assert.Equal("hmac_too_short", Refused(Set($$"""{"kty":"oct","alg":"HS256","k":"{{B64(new byte[31])}}"}""")).Reason);
    }

    [Fact]
    public void Parse_EmptyHmacKey_IsHmacTooShort()
    {
        Assert.Equal("hmac_too_short", Refused(Set("""{"kty":"oct","alg":"HS256","k":""}""")).Reason);
    }

    [Theory]
    [InlineData("RSA", "HS256")]
    [InlineData("oct", "RS256")]
    [InlineData("EC", "EdDSA")]
    [InlineData("OKP", "ES256")]
    public void Parse_KtyNotFittingAlg_IsKtyAlgMismatch(string kty, string alg)
    {
        Assert.Equal("kty_alg_mismatch", Refused(Set($$"""{"kty":"{{kty}}","alg":"{{alg}}","k":"{{B64(new byte[32])}}"}""")).Reason);
    }

    [Theory]
    [InlineData("enc")]
    [InlineData("SIG")]
    [InlineData("")]
    public void Parse_UseOtherThanSig_IsBadUse(string use)
    {
        Assert.Equal("bad_use", Refused(Set($$"""{"kty":"oct","alg":"HS256","use":"{{use}}","k":"{{B64(new byte[32])}}"}""")).Reason);
    }

    [Fact]
    public void Parse_KeyOpsEncrypt_IsBadKeyOps()
    {
        Assert.Equal("bad_key_ops", Refused(Set($$"""{"kty":"oct","alg":"HS256","key_ops":["encrypt"],"k":"{{B64(new byte[32])}}"}""")).Reason);
    }

    [Fact]
    public void Parse_DuplicateKid_IsDuplicateKid()
    {
        string k = $$"""{"kty":"oct","alg":"HS256","kid":"a","k":"{{B64(new byte[32])}}"}""";
        Assert.Equal("duplicate_kid", Refused(Set(k, k)).Reason);
    }

    [Fact]
    public void Parse_DuplicateMember_IsDuplicateMember()
    {
        Assert.Equal("duplicate_member", Refused(Set($$"""{"kty":"oct","alg":"HS256","alg":"HS256","k":"{{B64(new byte[32])}}"}""")).Reason);
    }

    [Theory]
    [InlineData(null, "missing_alg")]
    [InlineData("none", "unsupported_alg")]
    [InlineData("HS512", "unsupported_alg")]
    [InlineData("A256GCM", "unsupported_alg")]
    public void Parse_AlgMissingOrUnsupported_IsRefused(string? alg, string reason)
    {
        string algMember = alg is null ? "" : $"\"alg\":\"{alg}\",";
        Assert.Equal(reason, Refused(Set($$"""{"kty":"oct",{{algMember}}"k":"{{B64(new byte[32])}}"}""")).Reason);
    }

    [Theory]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+")]
    public void Parse_NonCanonicalBase64Url_IsBadBase64Url(string k)
    {
        Assert.Equal("bad_base64url", Refused(Set($$"""{"kty":"oct","alg":"HS256","k":"{{k}}"}""")).Reason);
    }

    [Fact]
    public void Parse_MixedSymmetricAndAsymmetric_IsMixedKeySet()
    {
        var group = VectorFiles.Case("json_web_key_test.json", 1).Group;
        Assert.Equal("mixed_key_set", Refused(group["private"]!.ToJsonString()).Reason);
    }

    [Theory]
    [InlineData(JwsAlgorithm.EdDSA, "key_mismatch")]
    [InlineData(JwsAlgorithm.ES256, "ec_invalid")]      // the platform itself refuses a d that does not give Q
    [InlineData(JwsAlgorithm.RS256, "rsa_invalid")]
    public void Parse_PrivateHalfOfAnotherKey_IsRefused(JwsAlgorithm alg, string reason)
    {
        var a = JsonNode.Parse(JwkSet.Create([SigningKey.Generate(alg, "a")]).ToPrivateJson())!["keys"]![0]!.AsObject();
        var b = JsonNode.Parse(JwkSet.Create([SigningKey.Generate(alg, "b")]).ToPrivateJson())!["keys"]![0]!.AsObject();
        a["d"] = (string)b["d"]!;
        Assert.Equal(reason, Refused(Set(a.ToJsonString())).Reason);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{}")]
    [InlineData("{\"keys\":{}}")]
    [InlineData("{\"keys\":[]}")]
    [InlineData("{\"keys\":[1]}")]
    [InlineData("{\"keys\":[{\"kty\":\"\\uD800\"}]}")]
    public void Parse_MalformedSet_IsRefused(string json)
    {
        Refused(json);
    }

    [Theory]
    [MemberData(nameof(TestKeys.All), MemberType = typeof(TestKeys))]
    public void Generate_ExportAndReload_SignsAndVerifies(JwsAlgorithm alg)
    {
        var key = SigningKey.Generate(alg, "kid-1");
        var reloaded = JwkSet.Parse(JwkSet.Create([key]).ToPrivateJson()).Keys[0];
        Assert.True(reloaded.CanSign);
        Assert.Equal(alg, reloaded.Algorithm);
        var clock = new ManualClock();
        string token = TokenFactory.Sign(reloaded, TokenFactory.Header(reloaded), TokenFactory.Payload(clock.GetUtcNow()));
        Assert.True(new JwsVerifier(JwkSet.Create([key]), TokenFactory.Options(), clock).Verify(token).IsValid);
    }

    [Theory]
    [InlineData(JwsAlgorithm.RS256)]
    [InlineData(JwsAlgorithm.PS256)]
    [InlineData(JwsAlgorithm.ES256)]
    [InlineData(JwsAlgorithm.EdDSA)]
    public void ToPublicJson_AsymmetricKey_HasNoPrivateMembers(JwsAlgorithm alg)
    {
        var key = TestKeys.For(alg);
        var json = JsonNode.Parse(JwkSet.Create([key]).ToPublicJson())!["keys"]![0]!.AsObject();
        foreach (var member in new[] { "d", "p", "q", "dp", "dq", "qi", "k" })
            Assert.False(json.ContainsKey(member), member);
        var publicKey = JwkSet.Parse(new JsonObject { ["keys"] = new JsonArray(json.DeepClone()) }.ToJsonString()).Keys[0];
        Assert.False(publicKey.CanSign);
    }

    [Fact]
    public void ToPublicJson_OctKey_Throws()
    {
        Assert.Throws<InvalidOperationException>(() => JwkSet.Create([TestKeys.For(JwsAlgorithm.HS256)]).ToPublicJson());
    }

    [Fact]
    public void ToString_PrivateKey_ShowsNoMaterial()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        var jwk = key.ToJwk(includePrivate: true);
        Assert.DoesNotContain(jwk.K!, key.ToString());
        Assert.DoesNotContain(jwk.K!, jwk.ToString());
        var ec = TestKeys.For(JwsAlgorithm.ES256).ToJwk(includePrivate: true);
        Assert.DoesNotContain(ec.D!, ec.ToString());
    }
}
