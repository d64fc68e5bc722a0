using System.Text;
using System.Text.Json.Nodes;
using Bouncer.Tokens;

namespace Bouncer.Tests.Tokens;

/// <summary>
/// RFC 7520 (JOSE cookbook) signatures and RFC 8037 Ed25519. The cookbook keys carry no <c>alg</c>, which Bouncer
/// requires, so each test pins the alg the vector's input names. The tokens carry neither <c>typ</c> nor <c>exp</c>,
/// so a full verify refuses them; what is meaningful is that the JWS layer accepts the exact signature.
/// </summary>
public sealed class CookbookTests
{
    public static TheoryData<string> Supported => new("jws/4_1.rsa_v15_signature.json", "jws/4_4.hmac-sha2_integrity_protection.json", "curve25519/jws.json");

    public static TheoryData<string> Unsupported => new("jws/4_2.rsa-pss_signature.json", "jws/4_3.ecdsa_signature.json");

    [Theory]
    [MemberData(nameof(Supported))]
    public void CookbookVector_SupportedAlg_SignatureVerifies(string file)
    {
        var (verifier, compact) = Load(file);
        Assert.Equal(VerifyFailure.None, verifier.VerifySignatureOnly(Encoding.UTF8.GetBytes(compact)));
    }

    [Theory]
    [MemberData(nameof(Supported))]
    public void CookbookVector_NoTypOrExp_FullVerifyRefuses(string file)
    {
        var (verifier, compact) = Load(file);
        // No typ (required by default, RFC 9068 2.1) and a payload that is not a JWT claims set.
        Assert.Equal(VerifyFailure.BadTyp, verifier.Verify(compact).Failure);
    }

    [Theory]
    [MemberData(nameof(Supported))]
    public void CookbookVector_FlippedSignatureBit_IsBadSignature(string file)
    {
        var (verifier, compact) = Load(file);
        var bytes = Encoding.UTF8.GetBytes(compact);
        int last = bytes.Length - 1;
        // Flip a bit of the first signature char: still canonical, different signature.
        int first = compact.LastIndexOf('.') + 1;
        bytes[first] = bytes[first] == (byte)'A' ? (byte)'B' : (byte)'A';
        Assert.True(last > first);
        Assert.Equal(VerifyFailure.BadSignature, verifier.VerifySignatureOnly(bytes));
    }

    [Theory]
    [MemberData(nameof(Unsupported))]
    public void CookbookVector_UnsupportedAlg_KeyIsRefused(string file)
    {
        // PS384 and ES512 (P-521) are not in Bouncer's allowlist: the key cannot even be loaded.
        var vector = VectorFiles.Load($"jose-cookbook/{file}");
        var jwk = vector["input"]!["key"]!.DeepClone().AsObject();
        jwk["alg"] = (string)vector["input"]!["alg"]!;
        var ex = Assert.Throws<KeyLoadException>(() => JwkSet.Parse(new JsonObject { ["keys"] = new JsonArray(jwk) }.ToJsonString()));
        Assert.Equal("unsupported_alg", ex.Reason);
    }

    [Fact]
    public void CookbookKey_RsaPublicWithAlg_Loads()
    {
        var jwk = VectorFiles.Load("jose-cookbook/jwk/3_3.rsa_public_key.json").DeepClone().AsObject();
        jwk["alg"] = "RS256";
        var set = JwkSet.Parse(new JsonObject { ["keys"] = new JsonArray(jwk) }.ToJsonString());
        Assert.False(set.Keys[0].CanSign);
    }

    [Fact]
    public void CookbookKey_WithoutAlg_IsRefused()
    {
        var jwk = VectorFiles.Load("jose-cookbook/jwk/3_3.rsa_public_key.json").DeepClone();
        var ex = Assert.Throws<KeyLoadException>(() => JwkSet.Parse(new JsonObject { ["keys"] = new JsonArray(jwk) }.ToJsonString()));
        Assert.Equal("missing_alg", ex.Reason);
    }

    [Fact]
    public void CookbookKey_RsaPrivate_LoadsAndSigns()
    {
        var jwk = VectorFiles.Load("jose-cookbook/jwk/3_4.rsa_private_key.json").DeepClone().AsObject();
        jwk["alg"] = "RS256";
        var set = JwkSet.Parse(new JsonObject { ["keys"] = new JsonArray(jwk) }.ToJsonString());
        Assert.True(set.Keys[0].CanSign);
    }

    [Fact]
    public void CookbookKey_P521_IsRefusedForES256()
    {
        var jwk = VectorFiles.Load("jose-cookbook/jwk/3_1.ec_public_key.json").DeepClone().AsObject();
        jwk["alg"] = "ES256";
        var ex = Assert.Throws<KeyLoadException>(() => JwkSet.Parse(new JsonObject { ["keys"] = new JsonArray(jwk) }.ToJsonString()));
        Assert.Equal("curve_alg_mismatch", ex.Reason);
    }

    [Fact]
    public void CookbookKey_Symmetric_Loads()
    {
        var jwk = VectorFiles.Load("jose-cookbook/jwk/3_5.symmetric_key_mac_computation.json").DeepClone();
        var set = JwkSet.Parse(new JsonObject { ["keys"] = new JsonArray(jwk) }.ToJsonString());
        Assert.Equal(JwsAlgorithm.HS256, set.Keys[0].Algorithm);
    }

    private static (JwsVerifier Verifier, string Compact) Load(string file)
    {
        var vector = VectorFiles.Load($"jose-cookbook/{file}");
        var jwk = vector["input"]!["key"]!.DeepClone().AsObject();
        jwk["alg"] = (string)vector["input"]!["alg"]!;
        var keys = JwkSet.Parse(new JsonObject { ["keys"] = new JsonArray(jwk) }.ToJsonString());
        return (new JwsVerifier(keys, TokenFactory.Options()), (string)vector["output"]!["compact"]!);
    }
}
