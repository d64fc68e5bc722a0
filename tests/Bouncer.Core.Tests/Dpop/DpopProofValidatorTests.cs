using System.Text.Json.Nodes;
using Bouncer.Dpop;
using Bouncer.Tokens;

namespace Bouncer.Tests.Dpop;

/// <summary>RFC 9449 4.3: each check of a DPoP proof refuses what it must, with its code, and a good proof passes.</summary>
public sealed class DpopProofValidatorTests : IDisposable
{
    private const string Url = "https://api.example/orders";
    private readonly ManualClock _clock = new();
    private readonly DpopClient _client = DpopClient.Es256();

    private DpopProofValidator Validator(Action<DpopOptions>? configure = null)
    {
        var options = new DpopOptions();
        configure?.Invoke(options);
        return new DpopProofValidator(options, _clock);
    }

    private string Proof(string method = "GET", string url = Url, string? token = null, Action<JsonObject>? header = null,
        Action<JsonObject>? payload = null, long? iat = null, string? jti = null, string? nonce = null) =>
        _client.Proof(method, url, token, nonce, iat, jti, header, payload, _clock);

    public void Dispose() => _client.Dispose();

    [Theory]
    [InlineData("ES256")]
    [InlineData("EdDSA")]
    [InlineData("PS256")]
    public void Validate_GoodProof_IsAccepted_WithTheKeysThumbprint(string alg)
    {
        using var client = alg switch { "ES256" => DpopClient.Es256(), "EdDSA" => DpopClient.EdDsa(), _ => DpopClient.Ps256() };
        var result = Validator().Validate(client.Proof("POST", Url, clock: _clock), "POST", Url, null, null);

        Assert.True(result.IsValid, result.Failure);
        Assert.Equal(client.Thumbprint, result.Thumbprint);
    }

    [Theory]
    // RFC 7638 3.1 (RSA) and RFC 9449 6.1 (the EC key of its examples).
    [InlineData("""{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}""", "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")]
    [InlineData("""{"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"}""", "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")]
    public void Thumbprint_MatchesTheRfcExamples(string jwk, string expected)
    {
        var set = JwkSet.Parse($$"""{"keys":[{{jwk.Replace("}", ",\"alg\":\"" + (jwk.Contains("RSA") ? "" : "ES256") + "\"}").Replace(",\"alg\":\"\"", "")}}]}""");
        Assert.Equal(expected, JwkThumbprint.Compute(set.Keys[0].ToJwk(false)));
    }

    [Fact]
    public void Validate_Ed25519FullySpecifiedName_IsEdDsa_AndNeedsAnEd25519Key()
    {
        using var ed = DpopClient.EdDsa();
        Assert.True(Validator().Validate(ed.Proof("GET", Url, header: h => h["alg"] = "Ed25519", clock: _clock), "GET", Url, null, null).IsValid);
        Assert.Equal(FailureCodes.DpopJwkInvalid, Validator().Validate(Proof(header: h => h["alg"] = "Ed25519"), "GET", Url, null, null).Failure);
        Assert.Equal(FailureCodes.DpopAlgNotAllowed, Validator(o => o.Algorithms = ["ES256"]).Validate(ed.Proof("GET", Url, header: h => h["alg"] = "Ed25519", clock: _clock), "GET", Url, null, null).Failure);
    }

    [Fact]
    public void Validate_NoneHmacAndUnlistedAlgorithms_AreRefused()
    {
        var validator = Validator(o => o.Algorithms = ["ES256"]);
        Assert.Equal(FailureCodes.DpopAlgNotAllowed, validator.Validate(Proof(header: h => h["alg"] = "none"), "GET", Url, null, null).Failure);
        Assert.Equal(FailureCodes.DpopAlgNotAllowed, validator.Validate(Proof(header: h => h["alg"] = "HS256"), "GET", Url, null, null).Failure);
        Assert.Equal(FailureCodes.DpopAlgNotAllowed, validator.Validate(Proof(header: h => h["alg"] = "es256"), "GET", Url, null, null).Failure);
        using var ed = DpopClient.EdDsa();
        Assert.Equal(FailureCodes.DpopAlgNotAllowed, validator.Validate(ed.Proof("GET", Url, clock: _clock), "GET", Url, null, null).Failure);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DpopOptions { Algorithms = ["HS256"] }.Validate());
    }

    [Fact]
    public void Validate_WrongTypMissingOrPrivateJwk_AreRefused()
    {
        var validator = Validator();
        Assert.Equal(FailureCodes.DpopBadTyp, validator.Validate(Proof(header: h => h["typ"] = "JWT"), "GET", Url, null, null).Failure);
        Assert.Equal(FailureCodes.DpopBadTyp, validator.Validate(Proof(header: h => h.Remove("typ")), "GET", Url, null, null).Failure);
        Assert.Equal(FailureCodes.DpopJwkInvalid, validator.Validate(Proof(header: h => h.Remove("jwk")), "GET", Url, null, null).Failure);
        var d = _client.PrivateD();
        Assert.Equal(FailureCodes.DpopJwkInvalid, validator.Validate(Proof(header: h => h["jwk"]!["d"] = d), "GET", Url, null, null).Failure);
        Assert.Equal(FailureCodes.DpopJwkInvalid, validator.Validate(Proof(header: h => h["jwk"]!["x"] = h["jwk"]!["y"]!.GetValue<string>()), "GET", Url, null, null).Failure);
        Assert.Equal(FailureCodes.CritUnsupported, validator.Validate(Proof(header: h => h["crit"] = new JsonArray("exp")), "GET", Url, null, null).Failure);
    }

    [Fact]
    public void Validate_SignatureByAnotherKeyThanTheJwk_IsRefused()
    {
        using var other = DpopClient.Es256();
        var forged = other.Proof("GET", Url, header: h => h["jwk"] = _client.Jwk.DeepClone(), clock: _clock);
        Assert.Equal(FailureCodes.DpopBadSignature, Validator().Validate(forged, "GET", Url, null, null).Failure);
    }

    [Fact]
    public void Validate_MethodAndUrl_MustMatch_QueryFragmentCaseAndDefaultPortDoNot()
    {
        var validator = Validator();
        Assert.Equal(FailureCodes.DpopHtmMismatch, validator.Validate(Proof("POST"), "GET", Url, null, null).Failure);
        Assert.Equal(FailureCodes.DpopHtmMismatch, validator.Validate(Proof("get"), "GET", Url, null, null).Failure);
        Assert.Equal(FailureCodes.DpopHtuMismatch, validator.Validate(Proof(url: "https://api.example/admin"), "GET", Url, null, null).Failure);
        Assert.Equal(FailureCodes.DpopHtuMismatch, validator.Validate(Proof(url: "http://api.example/orders"), "GET", Url, null, null).Failure);
        Assert.Equal(FailureCodes.DpopHtuMismatch, validator.Validate(Proof(url: "https://evil.example/orders"), "GET", Url, null, null).Failure);
        // RFC 9449 4.3 step 9 with RFC 3986 6.2.2, 6.2.3.
        Assert.True(validator.Validate(Proof(url: "HTTPS://API.example:443/orders?x=1#f"), "GET", Url + "?page=2", null, null).IsValid);
    }

    [Fact]
    public void Validate_IatOutsideTheWindow_IsRefused()
    {
        var validator = Validator();
        long now = _clock.GetUtcNow().ToUnixTimeSeconds();
        Assert.Equal(FailureCodes.DpopIatOutOfWindow, validator.Validate(Proof(iat: now - 120), "GET", Url, null, null).Failure);
        Assert.Equal(FailureCodes.DpopIatOutOfWindow, validator.Validate(Proof(iat: now + 60), "GET", Url, null, null).Failure);
        Assert.True(validator.Validate(Proof(iat: now - 50), "GET", Url, null, null).IsValid);
    }

    [Fact]
    public void Validate_ReplayedProof_IsRefused_UntilItCouldNoLongerPass()
    {
        var validator = Validator();
        var proof = Proof();
        Assert.True(validator.Validate(proof, "GET", Url, null, null).IsValid);
        Assert.Equal(FailureCodes.DpopProofReplayed, validator.Validate(proof, "GET", Url, null, null).Failure);
        // The same jti from the same key, in a new proof, is a replay too.
        Assert.Equal(FailureCodes.DpopProofReplayed, validator.Validate(Proof(jti: ReadJti(proof)), "GET", Url, null, null).Failure);
        _clock.Advance(TimeSpan.FromSeconds(80));
        Assert.Equal(FailureCodes.DpopIatOutOfWindow, validator.Validate(proof, "GET", Url, null, null).Failure);
    }

    [Fact]
    public void Validate_ReplayOfAProofFromTheFuture_IsRefused_AsLongAsItsIatStillPasses()
    {
        // RFC 9449 11.1: the jti is kept as long as the proof can pass the iat check, which works in whole seconds. First
        // use at x.000 s with iat = now + skew: that iat passes until x + lifetime + 2 skew + 1 s (exclusive).
        var validator = Validator();
        long now = _clock.GetUtcNow().ToUnixTimeSeconds();
        Assert.Equal(0, _clock.GetUtcNow().Millisecond);
        var proof = Proof(iat: now + 5);
        Assert.True(validator.Validate(proof, "GET", Url, null, null).IsValid);
        _clock.Advance(TimeSpan.FromMilliseconds(70_500));
        Assert.Equal(FailureCodes.DpopProofReplayed, validator.Validate(proof, "GET", Url, null, null).Failure);
        _clock.Advance(TimeSpan.FromMilliseconds(499));
        Assert.Equal(FailureCodes.DpopProofReplayed, validator.Validate(proof, "GET", Url, null, null).Failure);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(FailureCodes.DpopIatOutOfWindow, validator.Validate(proof, "GET", Url, null, null).Failure);
    }

    [Fact]
    public void Validate_RefusedProof_SpendsNoJti()
    {
        var validator = Validator();
        var proof = Proof();
        Assert.Equal(FailureCodes.DpopHtmMismatch, validator.Validate(proof, "POST", Url, null, null).Failure);
        Assert.True(validator.Validate(proof, "GET", Url, null, null).IsValid);
    }

    [Fact]
    public void Validate_AthAndBoundKey_MustMatchTheToken()
    {
        var validator = Validator();
        Assert.Equal(FailureCodes.DpopAthMismatch, validator.Validate(Proof(), "GET", Url, "the.access.token", _client.Thumbprint).Failure);
        Assert.Equal(FailureCodes.DpopAthMismatch, validator.Validate(Proof(token: "other.access.token"), "GET", Url, "the.access.token", _client.Thumbprint).Failure);
        using var other = DpopClient.Es256();
        Assert.Equal(FailureCodes.DpopKeyMismatch, validator.Validate(Proof(token: "the.access.token"), "GET", Url, "the.access.token", other.Thumbprint).Failure);
        Assert.True(validator.Validate(Proof(token: "the.access.token"), "GET", Url, "the.access.token", _client.Thumbprint).IsValid);
    }

    [Fact]
    public void CheckPresentation_BoundTokenAsBearer_UnboundAsDpop_AndTwoProofs_AreRefused()
    {
        var validator = Validator();
        const string token = "the.access.token";
        Assert.Equal(FailureCodes.DpopBoundTokenAsBearer, validator.CheckPresentation(false, [Proof(token: token)], "GET", Url, token, _client.Thumbprint, false).Failure);
        Assert.Equal(FailureCodes.DpopTokenNotBound, validator.CheckPresentation(true, [Proof(token: token)], "GET", Url, token, null, false).Failure);
        Assert.Equal(FailureCodes.DpopProofMissing, validator.CheckPresentation(true, [], "GET", Url, token, _client.Thumbprint, false).Failure);
        Assert.Equal(FailureCodes.DpopProofInvalid, validator.CheckPresentation(true, [Proof(token: token), Proof(token: token)], "GET", Url, token, _client.Thumbprint, false).Failure);
        Assert.Equal(FailureCodes.DpopRequired, validator.CheckPresentation(false, [], "GET", Url, token, null, true).Failure);
        Assert.True(validator.CheckPresentation(false, [], "GET", Url, token, null, false).IsValid);
        Assert.True(validator.CheckPresentation(true, [Proof(token: token)], "GET", Url, token, _client.Thumbprint, false).IsValid);
        Assert.Equal("invalid_token", DpopProofResult.ErrorFor(FailureCodes.DpopBoundTokenAsBearer));
        Assert.Equal("invalid_dpop_proof", DpopProofResult.ErrorFor(FailureCodes.DpopKeyMismatch));
    }

    [Fact]
    public void CheckBearerPresentation_RefusesBoundTokens_AndUnboundOnesWhereRequired_LikeCheckPresentation()
    {
        var validator = Validator(o => o.Mode = DpopMode.Required);
        const string token = "the.access.token";
        foreach (var (bound, required) in new[] { (true, false), (true, true), (false, true), (false, false) })
        {
            string? thumbprint = bound ? _client.Thumbprint : null;
            var bearer = validator.CheckBearerPresentation(thumbprint, required);
            var full = validator.CheckPresentation(false, [Proof(token: token)], "GET", Url, token, thumbprint, required);
            Assert.Equal(full.Failure, bearer.Failure);
            Assert.Equal(!bound && !required, bearer.IsValid);
        }
        Assert.Equal(FailureCodes.DpopBoundTokenAsBearer, validator.CheckBearerPresentation(_client.Thumbprint, false).Failure);
        Assert.Equal(FailureCodes.DpopRequired, validator.CheckBearerPresentation(null, true).Failure);
    }

    [Fact]
    public void Nonce_WhenRequired_OnlyTheCurrentOrPreviousPasses()
    {
        var validator = Validator(o => { o.RequireNonce = true; o.NonceLifetime = TimeSpan.FromMinutes(5); });
        Assert.Equal(FailureCodes.UseDpopNonce, validator.Validate(Proof(), "GET", Url, null, null).Failure);
        Assert.Equal(FailureCodes.UseDpopNonce, validator.Validate(Proof(nonce: "made-up"), "GET", Url, null, null).Failure);
        var nonce = validator.CurrentNonce()!;
        Assert.True(validator.Validate(Proof(nonce: nonce), "GET", Url, null, null).IsValid);
        _clock.Advance(TimeSpan.FromMinutes(5));
        Assert.True(validator.Validate(Proof(nonce: nonce), "GET", Url, null, null).IsValid);
        _clock.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(FailureCodes.UseDpopNonce, validator.Validate(Proof(nonce: nonce), "GET", Url, null, null).Failure);
        // Another process's secret: its nonces are not this one's.
        var stranger = Validator(o => o.RequireNonce = true).CurrentNonce();
        Assert.Equal(FailureCodes.UseDpopNonce, validator.Validate(Proof(nonce: stranger), "GET", Url, null, null).Failure);
    }

    [Fact]
    public void ReplayCache_IsBounded_AndRefusesWhenFullOfLiveEntries()
    {
        // Holds rate x (lifetime + 2 skew + 1 s): 1 x (1 + 0 + 1) = 2 entries.
        var options = new DpopOptions { MaxProofsPerSecond = 1, ProofLifetime = TimeSpan.FromSeconds(1), ClockSkew = TimeSpan.Zero };
        var validator = new DpopProofValidator(options, _clock);
        Assert.Equal(2, validator.Replay.Capacity);
        Assert.True(validator.Validate(Proof(), "GET", Url, null, null).IsValid);
        Assert.True(validator.Validate(Proof(), "GET", Url, null, null).IsValid);
        Assert.Equal(FailureCodes.DpopReplayCacheFull, validator.Validate(Proof(), "GET", Url, null, null).Failure);
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.True(validator.Validate(Proof(), "GET", Url, null, null).IsValid);
        Assert.Equal(1, validator.Replay.Count);
    }

    [Fact]
    public void ReplayCache_OneKeyFlooding_IsLimitedToItsShare_AndAnotherClientsProofPasses()
    {
        // 100/s x (1 s + 0 + 1 s) = 200 entries; each key may hold max(64, 200 / 16) = 64 of them.
        var options = new DpopOptions { MaxProofsPerSecond = 100, ProofLifetime = TimeSpan.FromSeconds(1), ClockSkew = TimeSpan.Zero };
        var validator = new DpopProofValidator(options, _clock);
        Assert.Equal(200, validator.Replay.Capacity);
        int accepted = 0;
        string? refusal = null;
        for (int i = 0; i < validator.Replay.Capacity; i++)
        {
            var result = validator.Validate(Proof(), "GET", Url, null, null);
            if (result.IsValid) accepted++;
            else refusal ??= result.Failure;
        }
        Assert.Equal(64, accepted);
        Assert.Equal(FailureCodes.DpopKeyRateLimited, refusal);
        using var other = DpopClient.Es256();
        Assert.True(validator.Validate(other.Proof("GET", Url, clock: _clock), "GET", Url, null, null).IsValid);
        // Once its entries expire, the flooding key gets its share back.
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.True(validator.Validate(Proof(), "GET", Url, null, null).IsValid);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a.b")]
    [InlineData("a.b.c.d")]
    [InlineData("eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.AAAA")]
    public void Validate_MalformedProof_IsRefused(string proof) =>
        Assert.False(Validator().Validate(proof, "GET", Url, null, null).IsValid);

    [Fact]
    public void Validate_MissingOrDuplicateClaims_AreRefused()
    {
        var validator = Validator();
        Assert.Equal(FailureCodes.DpopProofInvalid, validator.Validate(Proof(payload: p => p.Remove("jti")), "GET", Url, null, null).Failure);
        Assert.Equal(FailureCodes.DpopProofInvalid, validator.Validate(Proof(payload: p => p.Remove("iat")), "GET", Url, null, null).Failure);
        Assert.Equal(FailureCodes.DpopProofInvalid, validator.Validate(Proof(payload: p => p["iat"] = "now"), "GET", Url, null, null).Failure);
    }

    private static string ReadJti(string proof) =>
        System.Text.Json.JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(proof.Split('.')[1])).RootElement.GetProperty("jti").GetString()!;
}
