using System.Text;
using System.Text.Json.Nodes;
using Bouncer.Tokens;

namespace Bouncer.Tests.Tokens;

/// <summary>
/// Wycheproof json_web_signature_test.json: every case through the verifier's JWS layer (structure, header, key
/// choice, alg pin, signature). The payloads are not JWTs ("foo"), so claims are out of scope here.
/// </summary>
public sealed class WycheproofJwsTests
{
    private const string File = "json_web_signature_test.json";

    // Cases Wycheproof calls valid that Bouncer refuses on purpose, each with the stricter rule that applies.
    private static readonly Dictionary<int, string> StricterThanVector = new()
    {
        // Figure 20 of RFC 7520 is a PS384 token; the group pins its key to PS256. Bouncer pins each key to one alg
        // and does not support PS384 at all: refused as alg_not_allowed.
        [346] = "alg pin: PS384 token, key pinned to PS256",
        [350] = "alg pin: PS384 token, key pinned to PS256",
        // Wycheproof accepts a '?' inserted into a segment (lenient decoders skip it). Bouncer decodes canonical
        // base64url only (RFC 7515 2): exactly one spelling per token.
        [372] = "canonical base64url: '?' in the header",
        [373] = "canonical base64url: '?' in the payload",
    };

    // Cases whose token is byte-for-byte the valid tcId 357 yet marked invalid (the padding the comment names is
    // absent from the file): the meaningful assertion is that Bouncer answers exactly as for 357.
    private static readonly HashSet<int> IdenticalToValid357 = [367, 370];

    public static TheoryData<int> Cases => VectorFiles.Ids(File);

    [Theory]
    [MemberData(nameof(Cases))]
    public void JwsVector_Case_MatchesExpectedOrStricter(int tcId)
    {
        var (group, test) = VectorFiles.Case(File, tcId);
        string expected = (string)test["result"]!;
        var jwk = (group["private"] ?? group["public"])!.AsObject();
        string alg = (string?)jwk["alg"] ?? "";

        JwkSet keys;
        try
        {
            keys = JwkSet.Parse(new JsonObject { ["keys"] = new JsonArray(jwk.DeepClone()) }.ToJsonString());
        }
        catch (KeyLoadException ex)
        {
            // A refused key refuses every token. Where the vector expects "valid", the only acceptable reason is an
            // algorithm Bouncer deliberately does not support (RS384/RS512/PS384/PS512/ES512).
            if (expected == "valid")
            {
                // tcId 349's key_ops is ["sign, verify"], one malformed string: refused as bad_key_ops, stricter.
                if (tcId == 349)
                {
                    Assert.Equal("bad_key_ops", ex.Reason);
                    return;
                }
                Assert.Equal("unsupported_alg", ex.Reason);
                Assert.Contains(alg, new[] { "RS384", "RS512", "PS384", "PS512", "ES512", "ES521" });
            }
            return;
        }

        var verifier = new JwsVerifier(keys, TokenFactory.Options());
        string jws = test["jws"] is JsonValue v ? (string)v! : test["jws"]!.ToJsonString();
        var failure = verifier.VerifySignatureOnly(Encoding.UTF8.GetBytes(jws));

        if (IdenticalToValid357.Contains(tcId))
        {
            Assert.Equal((string)VectorFiles.Case(File, 357).Test["jws"]!, jws);
            Assert.Equal(VerifyFailure.None, failure);
        }
        else if (expected == "valid" && !StricterThanVector.ContainsKey(tcId))
            Assert.Equal(VerifyFailure.None, failure);
        else
            Assert.NotEqual(VerifyFailure.None, failure);
    }

    [Fact]
    public void JwsVector_PsychicSignature_IsBadSignature()
    {
        // tcId 378 family: r = s = 0 must be a signature failure, not an exception.
        var (group, _) = VectorFiles.Case(File, 378);
        var keys = JwkSet.Parse(new JsonObject { ["keys"] = new JsonArray(group["private"]!.DeepClone()) }.ToJsonString());
        var verifier = new JwsVerifier(keys, TokenFactory.Options());
        string zeros = System.Buffers.Text.Base64Url.EncodeToString(new byte[64]);
        var failure = verifier.VerifySignatureOnly(Encoding.UTF8.GetBytes("eyJhbGciOiJFUzI1NiIsImtpZCI6ImtpZC1lYy1zaWduIn0.Zm9v." + zeros));
        Assert.Equal(VerifyFailure.BadSignature, failure);
    }
}
