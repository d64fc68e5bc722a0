using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Bouncer.Tokens;
using NSec.Cryptography;

namespace Bouncer.Tests.Tokens;

/// <summary>
/// The Wycheproof primitive files through <see cref="SignaturePrimitives"/>, the very wrappers the verifier calls.
/// Key-level rules (e.g. e = 3) are the loader's job and tested there; here the primitive alone must get the answer.
/// </summary>
public sealed class WycheproofPrimitiveTests
{
    public static TheoryData<int> HmacCases => VectorFiles.Ids("hmac_sha256_test.json");
    public static TheoryData<int> RsaPkcs1Cases => VectorFiles.Ids("rsa_signature_2048_sha256_test.json", (_, t) => (string)t["result"]! != "acceptable");
    public static TheoryData<int> RsaPssCases => VectorFiles.Ids("rsa_pss_2048_sha256_mgf1_32_test.json");
    public static TheoryData<int> EcdsaCases => VectorFiles.Ids("ecdsa_secp256r1_sha256_p1363_test.json");
    public static TheoryData<int> Ed25519Cases => VectorFiles.Ids("ed25519_test.json");

    [Theory]
    [MemberData(nameof(HmacCases))]
    public void HmacSha256Vector_Case_MatchesExpected(int tcId)
    {
        var (group, test) = VectorFiles.Case("hmac_sha256_test.json", tcId);
        using var hmac = System.Security.Cryptography.IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, VectorFiles.Hex(test["key"]));
        bool ok = SignaturePrimitives.VerifyHmacSha256(hmac, VectorFiles.Hex(test["msg"]), VectorFiles.Hex(test["tag"]));
        // JWS HS256 carries the full 256-bit tag (RFC 7518 3.2): a truncated tag, valid for a truncated-MAC scheme,
        // must be refused by Bouncer. So only the 256-bit tag groups may expect true.
        bool expected = (string)test["result"]! == "valid" && (int)group["tagSize"]! == 256;
        Assert.Equal(expected, ok);
    }

    [Theory]
    [MemberData(nameof(RsaPkcs1Cases))]
    public void RsaPkcs1Vector_Case_MatchesExpected(int tcId)
    {
        var (group, test) = VectorFiles.Case("rsa_signature_2048_sha256_test.json", tcId);
        using var rsa = ImportRsa(group);
        bool ok = SignaturePrimitives.VerifyRsaPkcs1Sha256(rsa, VectorFiles.Hex(test["msg"]), VectorFiles.Hex(test["sig"]));
        Assert.Equal((string)test["result"]! == "valid", ok);
    }

    [Theory]
    [MemberData(nameof(RsaPssCases))]
    public void RsaPssVector_Case_MatchesExpected(int tcId)
    {
        var (group, test) = VectorFiles.Case("rsa_pss_2048_sha256_mgf1_32_test.json", tcId);
        using var rsa = ImportRsa(group);
        bool ok = SignaturePrimitives.VerifyRsaPssSha256(rsa, VectorFiles.Hex(test["msg"]), VectorFiles.Hex(test["sig"]));
        Assert.Equal((string)test["result"]! == "valid", ok);
    }

    [Theory]
    [MemberData(nameof(EcdsaCases))]
    public void EcdsaP256Vector_Case_MatchesExpected(int tcId)
    {
        var (group, test) = VectorFiles.Case("ecdsa_secp256r1_sha256_p1363_test.json", tcId);
        var key = group["publicKey"]!;
        using var ecdsa = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = Fixed(VectorFiles.Hex(key["wx"]), 32), Y = Fixed(VectorFiles.Hex(key["wy"]), 32) },
        });
        bool ok = SignaturePrimitives.VerifyEcdsaP256Sha256(ecdsa, VectorFiles.Hex(test["msg"]), VectorFiles.Hex(test["sig"]));
        Assert.Equal((string)test["result"]! == "valid", ok);
    }

    [Theory]
    [MemberData(nameof(Ed25519Cases))]
    public void Ed25519Vector_Case_MatchesExpected(int tcId)
    {
        var (group, test) = VectorFiles.Case("ed25519_test.json", tcId);
        var publicKey = PublicKey.Import(SignatureAlgorithm.Ed25519, VectorFiles.Hex(group["publicKey"]!["pk"]), KeyBlobFormat.RawPublicKey);
        bool ok = SignaturePrimitives.VerifyEd25519(publicKey, VectorFiles.Hex(test["msg"]), VectorFiles.Hex(test["sig"]));
        Assert.Equal((string)test["result"]! == "valid", ok);
    }

    private static RSA ImportRsa(JsonObject group)
    {
        var key = group["publicKey"]!;
        var rsa = RSA.Create();
        rsa.ImportParameters(new RSAParameters
        {
            Modulus = TrimLeadingZeros(VectorFiles.Hex(key["modulus"])),
            Exponent = TrimLeadingZeros(VectorFiles.Hex(key["publicExponent"])),
        });
        return rsa;
    }

    private static byte[] TrimLeadingZeros(byte[] value)
    {
        int i = 0;
        while (i < value.Length - 1 && value[i] == 0) i++;
        return value[i..];
    }

    private static byte[] Fixed(byte[] value, int length)
    {
        value = TrimLeadingZeros(value);
        var result = new byte[length];
        value.CopyTo(result, length - value.Length);
        return result;
    }
}
