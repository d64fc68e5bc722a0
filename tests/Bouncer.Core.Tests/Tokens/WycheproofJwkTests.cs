using System.Text;
using Bouncer.Tokens;

namespace Bouncer.Tests.Tokens;

/// <summary>Wycheproof json_web_key_test.json: each key set is loaded, then the token verified at the JWS layer.</summary>
public sealed class WycheproofJwkTests
{
    private const string File = "json_web_key_test.json";

    public static TheoryData<int> Cases => VectorFiles.Ids(File);

    [Theory]
    [MemberData(nameof(Cases))]
    public void JwkVector_Case_MatchesExpected(int tcId)
    {
        var (group, test) = VectorFiles.Case(File, tcId);
        bool expectValid = (string)test["result"]! == "valid";
        string alg = (string?)group["private"]!["keys"]![0]!["alg"] ?? "";

        foreach (var side in new[] { "private", "public" })
        {
            if (group[side] is null) continue;
            JwkSet keys;
            try
            {
                keys = JwkSet.Parse(group[side]!.ToJsonString());
            }
            catch (KeyLoadException ex)
            {
                if (expectValid)
                {
                    // HS384/HS512 long keys are valid in Wycheproof; Bouncer supports only HS256.
                    Assert.Equal("unsupported_alg", ex.Reason);
                    Assert.Contains(alg, new[] { "HS384", "HS512" });
                }
                continue;
            }
            var failure = new JwsVerifier(keys, TokenFactory.Options()).VerifySignatureOnly(Encoding.UTF8.GetBytes((string)test["jws"]!));
            if (expectValid) Assert.Equal(VerifyFailure.None, failure);
            else Assert.NotEqual(VerifyFailure.None, failure);
        }
    }
}
