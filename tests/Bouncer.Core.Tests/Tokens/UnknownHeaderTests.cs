using Bouncer.Tokens;

namespace Bouncer.Tests.Tokens;

/// <summary>
/// RFC 7515 4 / 4.1.11: header parameters a recipient does not understand are ignored unless <c>crit</c> names them.
/// Outside issuers send them (Microsoft Entra ID v1 tokens carry <c>x5t</c>). The members that change how a token is
/// read or which key checks it stay refused; ignored members are still bounded and free of duplicates.
/// </summary>
public sealed class UnknownHeaderTests
{
    private readonly ManualClock _clock = new();

    private JwsVerifier Verifier(SigningKey key, VerifyOptions? options = null) =>
        new(JwkSet.Create([key]), options ?? TokenFactory.Options(), _clock);

    private string Signed(SigningKey key, string after, string before = "") =>
        TokenFactory.Sign(key, TokenFactory.HeaderWith(key, after, before), TokenFactory.Payload(_clock.GetUtcNow()));

    // Unknown members in the shapes real issuers use, and the shapes JSON allows: strings, numbers, literals, nested.
    public static TheoryData<JwsAlgorithm, string, string> Ignored()
    {
        string[][] shapes =
        [
            ["\"x5t\":\"nOo3ZDrODXEK1jKWhXslHR_KXEg\"", ""],                                   // Entra ID v1
            ["\"x5t#S256\":\"Vw8Jm4U5Y3cB0vYqkEw3xxBtQ3KyZrj5h7tNXl9W-2s\"", ""],
            ["\"custom\":\"v\",\"n\":-1.5e3,\"t\":true,\"f\":false,\"z\":null", ""],
            ["\"ext\":{\"a\":[1,{\"b\":\"c\"}],\"d\":{},\"e\":[]},\"arr\":[[],[\"x\",{\"y\":[null]}]]", ""],
            ["\"cty\":\"at+jwt\"", ""],
            ["\"caf\\u00e9\":\"caf\\u00e9\",\"q\":\"\\\"\\\\\\/\\n\\ud83d\\ude00\"", ""],
            ["", "\"x5t\":\"nOo3ZDrODXEK1jKWhXslHR_KXEg\",\"ext\":{\"a\":[1]}"],          // before alg
            ["\"kid2\":\"k\",\"x\":{\"alg\":\"none\",\"kid\":\"other\",\"typ\":\"JWT\",\"crit\":[\"x\"],\"jku\":\"https://evil.example\"}", ""],
        ];
        var data = new TheoryData<JwsAlgorithm, string, string>();
        foreach (var alg in Enum.GetValues<JwsAlgorithm>())
            foreach (var shape in shapes)
                data.Add(alg, shape[0], shape[1]);
        return data;
    }

    [Theory]
    [MemberData(nameof(Ignored))]
    public void Verify_UnknownHeaderMembers_AreIgnored(JwsAlgorithm alg, string after, string before)
    {
        var key = TestKeys.For(alg);
        var verifier = Verifier(key);
        string token = Signed(key, after, before);
        var result = verifier.Verify(token);
        Assert.Equal(VerifyFailure.None, result.Failure);
        Assert.Equal("user-1", result.GetSubject());
        Assert.Same(key, result.Key);
        // Again, from the header cache, and through the span overload.
        Assert.True(verifier.Verify(token).IsValid);
        Assert.True(verifier.Verify(System.Text.Encoding.ASCII.GetBytes(token)).IsValid);
        // The alg pin, kid choice and typ still come from the real members alone.
        var parts = token.Split('.');
        Assert.Equal(VerifyFailure.BadSignature, verifier.Verify(parts[0] + "." + parts[1] + "." + Tamper(parts[2])).Failure);
    }

    private static string Tamper(string signature) => (signature[0] == 'A' ? "B" : "A") + signature[1..];

    [Theory]
    [MemberData(nameof(TestKeys.All), MemberType = typeof(TestKeys))]
    public void Verify_UnknownMembersDoNotLoosenOtherRules(JwsAlgorithm alg)
    {
        var key = TestKeys.For(alg);
        const string extra = "\"x5t\":\"nOo3ZDrODXEK1jKWhXslHR_KXEg\",\"ext\":{\"a\":[1]}";
        string payload = TokenFactory.Payload(_clock.GetUtcNow());
        string name = key.Algorithm.Name();
        Assert.Equal(VerifyFailure.BadTyp, Verifier(key).Verify(TokenFactory.Sign(key, $$"""{"alg":"{{name}}","kid":"{{key.KeyId}}","typ":"JWT",{{extra}}}""", payload)).Failure);
        Assert.Equal(VerifyFailure.BadTyp, Verifier(key).Verify(TokenFactory.Sign(key, $$"""{"alg":"{{name}}","kid":"{{key.KeyId}}",{{extra}}}""", payload)).Failure);
        Assert.Equal(VerifyFailure.UnknownKid, Verifier(key).Verify(TokenFactory.Sign(key, $$"""{"alg":"{{name}}","kid":"other","typ":"at+jwt",{{extra}}}""", payload)).Failure);
        Assert.Equal(VerifyFailure.AlgNotAllowed, Verifier(key).Verify(TokenFactory.Sign(key, $$"""{"kid":"{{key.KeyId}}","typ":"at+jwt",{{extra}}}""", payload)).Failure);
        Assert.Equal(VerifyFailure.AlgNotAllowed, Verifier(key).Verify(TokenFactory.Sign(key, $$"""{"alg":"none","kid":"{{key.KeyId}}","typ":"at+jwt",{{extra}}}""", payload)).Failure);
    }

    [Theory]
    [MemberData(nameof(TestKeys.All), MemberType = typeof(TestKeys))]
    public void Verify_CritNamingUnknownMember_IsCritUnsupported(JwsAlgorithm alg)
    {
        var key = TestKeys.For(alg);
        const string x5t = "\"x5t\":\"nOo3ZDrODXEK1jKWhXslHR_KXEg\"";
        Assert.Equal(VerifyFailure.CritUnsupported, Verifier(key).Verify(Signed(key, x5t + ",\"custom\":1,\"crit\":[\"custom\"]")).Failure);
        Assert.Equal(VerifyFailure.CritUnsupported, Verifier(key).Verify(Signed(key, "\"crit\":[\"custom\"],\"custom\":{\"a\":[1]}")).Failure);
        Assert.Equal(VerifyFailure.CritUnsupported, Verifier(key).Verify(Signed(key, x5t + ",\"crit\":[\"x5t\"]")).Failure);
        Assert.Equal(VerifyFailure.CritUnsupported, Verifier(key).Verify(Signed(key, "\"custom\":1", before: "\"\\u0063rit\":[\"custom\"]")).Failure);
    }

    [Theory]
    [InlineData("\"jku\":\"https://evil.example/jwks\"", VerifyFailure.UntrustedKeyHeader)]
    [InlineData("\"x5u\":\"https://evil.example/cert\"", VerifyFailure.UntrustedKeyHeader)]
    [InlineData("\"jwk\":{\"kty\":\"oct\",\"k\":\"AAAA\"}", VerifyFailure.UntrustedKeyHeader)]
    [InlineData("\"x5c\":[\"MIIB\"]", VerifyFailure.UntrustedKeyHeader)]
    [InlineData("\"\\u006aku\":\"https://evil.example/jwks\"", VerifyFailure.UntrustedKeyHeader)]
    [InlineData("\"x\\u0035c\":[\"MIIB\"]", VerifyFailure.UntrustedKeyHeader)]
    [InlineData("\"b64\":false", VerifyFailure.UnsupportedHeader)]
    [InlineData("\"zip\":\"DEF\"", VerifyFailure.UnsupportedHeader)]
    [InlineData("\"enc\":\"A256GCM\"", VerifyFailure.UnsupportedHeader)]
    [InlineData("\"b\\u0036\\u0034\":false", VerifyFailure.UnsupportedHeader)]
    [InlineData("\"crit\":[\"b64\"],\"b64\":false", VerifyFailure.CritUnsupported)]
    public void Verify_RefusedMemberBesideUnknownOnes_IsStillRefused(string member, VerifyFailure expected)
    {
        foreach (var alg in Enum.GetValues<JwsAlgorithm>())
        {
            var key = TestKeys.For(alg);
            Assert.Equal(expected, Verifier(key).Verify(Signed(key, "\"x5t\":\"nOo3ZDrODXEK1jKWhXslHR_KXEg\",\"ext\":{\"a\":1}," + member)).Failure);
            Assert.Equal(expected, Verifier(key).Verify(Signed(key, "\"x5t\":\"nOo3ZDrODXEK1jKWhXslHR_KXEg\"", before: member)).Failure);
        }
    }

    [Theory]
    [InlineData("\"x5t\":\"a\",\"x5t\":\"b\"")]
    [InlineData("\"x5t\":\"a\",\"\\u00785t\":\"a\"")]
    [InlineData("\"c\\u0061f\":1,\"\\u0063af\":2")]
    [InlineData("\"custom\":1,\"ext\":{},\"custom\":1")]
    [InlineData("\"ext\":{\"a\":1,\"a\":2}")]
    [InlineData("\"ext\":[{\"a\":{\"b\":1,\"b\":1}}]")]
    [InlineData("\"\\u0061lg\":\"HS256\"")]
    [InlineData("\"\\u006bid\":\"k\"")]
    [InlineData("\"typ\":\"at+jwt\"")]
    public void Verify_DuplicateHeaderMember_IsMalformed(string after)
    {
        foreach (var alg in Enum.GetValues<JwsAlgorithm>())
        {
            var key = TestKeys.For(alg);
            Assert.Equal(VerifyFailure.Malformed, Verifier(key).Verify(Signed(key, after)).Failure);
        }
    }

    [Fact]
    public void Verify_SameUnknownNameInSiblingObjects_IsValid()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        Assert.True(Verifier(key).Verify(Signed(key, "\"x\":{\"a\":1},\"y\":{\"a\":2},\"a\":3")).IsValid);
    }

    [Fact]
    public void Verify_UnknownMemberTooDeep_IsTooDeep()
    {
        // The header object is depth 1; unknown values may nest to depth 8, the payload's default cap. The header cap is
        // fixed: parsed headers are cached for every verifier over the same keys, whatever their MaxJsonDepth.
        var key = TestKeys.For(JwsAlgorithm.HS256);
        Assert.True(Verifier(key).Verify(Signed(key, "\"n\":" + new string('[', 7) + new string(']', 7))).IsValid);
        Assert.True(Verifier(key).Verify(Signed(key, "\"n\":" + string.Concat(Enumerable.Repeat("{\"a\":", 7)) + "1" + new string('}', 7))).IsValid);
        Assert.Equal(VerifyFailure.TooDeep, Verifier(key).Verify(Signed(key, "\"n\":" + new string('[', 8) + new string(']', 8))).Failure);
        Assert.Equal(VerifyFailure.TooDeep, Verifier(key).Verify(Signed(key, "\"n\":" + string.Concat(Enumerable.Repeat("{\"a\":", 8)) + "1" + new string('}', 8))).Failure);
        Assert.Equal(VerifyFailure.TooDeep, Verifier(key).Verify(Signed(key, "\"n\":" + new string('[', 500) + new string(']', 500))).Failure);
        // Not even well-formed: the depth cap answers before the rest is read.
        Assert.Equal(VerifyFailure.TooDeep, Verifier(key).Verify(Signed(key, "\"n\":" + new string('[', 500))).Failure);
    }

    [Fact]
    public void Verify_UnknownMemberOversized_IsTooLarge()
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        // Within the token cap: accepted, however the header is shaped.
        Assert.True(Verifier(key).Verify(Signed(key, $"\"pad\":\"{new string('a', 3000)}\"")).IsValid);
        Assert.Equal(VerifyFailure.TooLarge, Verifier(key).Verify(Signed(key, $"\"pad\":\"{new string('a', 8192)}\"")).Failure);
        var small = Verifier(key, new VerifyOptions { Issuer = TokenFactory.Issuer, Audience = TokenFactory.Audience, MaxTokenBytes = 512 });
        Assert.Equal(VerifyFailure.TooLarge, small.Verify(Signed(key, $"\"ext\":[\"{new string('a', 200)}\"]")).Failure);
    }

    [Fact]
    public void Verify_TooManyUnknownMembers_IsMalformed()
    {
        // The same member cap as the payload bounds the duplicate check.
        var key = TestKeys.For(JwsAlgorithm.HS256);
        Assert.True(Verifier(key).Verify(Signed(key, string.Join(",", Enumerable.Range(0, 40).Select(i => $"\"m{i}\":{i}")))).IsValid);
        Assert.Equal(VerifyFailure.Malformed, Verifier(key).Verify(Signed(key, string.Join(",", Enumerable.Range(0, 300).Select(i => $"\"m{i}\":0")))).Failure);
        Assert.Equal(VerifyFailure.Malformed, Verifier(key).Verify(Signed(key, "\"x\":{" + string.Join(",", Enumerable.Range(0, 300).Select(i => $"\"m{i}\":0")) + "}")).Failure);
    }

    [Theory]
    [InlineData("\"x\":\"\\ud800\"")]
    [InlineData("\"x\":{\"y\":[\"\\udc00\"]}")]
    [InlineData("\"\\ud800\":1")]
    [InlineData("\"x\":{\"\\ud800\":1}")]
    public void Verify_LoneSurrogateInUnknownMember_IsMalformed(string after)
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        Assert.Equal(VerifyFailure.Malformed, Verifier(key).Verify(Signed(key, after)).Failure);
    }

    [Theory]
    [InlineData("\"x\":}")]
    [InlineData("\"x\":[1,]")]
    [InlineData("\"x\":{\"a\"}")]
    [InlineData("\"x\":01")]
    [InlineData("\"x\":'a'")]
    [InlineData("\"x\":[1")]
    public void Verify_BadJsonInUnknownMember_IsMalformed(string after)
    {
        var key = TestKeys.For(JwsAlgorithm.HS256);
        Assert.Equal(VerifyFailure.Malformed, Verifier(key).Verify(Signed(key, after)).Failure);
    }
}
