using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Bouncer.Revocation;
using Bouncer.Tokens;

namespace Bouncer.Verifier.Tests;

/// <summary>Outside issuers: configured trust, isolation between issuers, no fetch driven by token content.</summary>
public sealed class FederatedTests : IAsyncLifetime
{
    private const string Audience = "orders";
    private OutsideIssuer _a = null!;
    private OutsideIssuer _b = null!;

    public async Task InitializeAsync()
    {
        _a = await OutsideIssuer.StartAsync("https://a.example", "a-1");
        _b = await OutsideIssuer.StartAsync("https://b.example", "b-1");
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    [Theory]
    [InlineData("JWT")]
    [InlineData(null)]
    [InlineData("at+jwt")]
    public async Task Verify_OutsideTokenIssuerConfigured_IsAccepted(string? typ)
    {
        await using var downstream = await Downstream.StartAsync(o => o.AddIssuer(_a.Trusted(Audience)));
        Assert.Equal((HttpStatusCode.OK, "outside-user"), await downstream.CallAsync(_a.Mint(Audience, typ: typ)));
    }

    [Fact]
    public async Task Verify_OutsideTokenWithUnknownHeaderMembers_IsAccepted()
    {
        // Microsoft Entra ID v1 access tokens carry x5t (and some issuers more): RFC 7515 4 says ignore them unless crit.
        await using var downstream = await Downstream.StartAsync(o => o.AddIssuer(_a.Trusted(Audience)));
        var entra = new Dictionary<string, object> { ["x5t"] = "nOo3ZDrODXEK1jKWhXslHR_KXEg" };
        Assert.Equal((HttpStatusCode.OK, "outside-user"), await downstream.CallAsync(_a.Mint(Audience, extraHeader: entra)));
        var nested = new Dictionary<string, object> { ["x5t"] = "nOo3ZDrODXEK1jKWhXslHR_KXEg", ["ext"] = new { a = new object[] { 1, new { b = "c" } } } };
        Assert.Equal((HttpStatusCode.OK, "outside-user"), await downstream.CallAsync(_a.Mint(Audience, extraHeader: nested)));
        var critical = new Dictionary<string, object> { ["x5t"] = "nOo3ZDrODXEK1jKWhXslHR_KXEg", ["crit"] = new[] { "x5t" } };
        Assert.Equal((HttpStatusCode.Unauthorized, "crit_unsupported"), await downstream.CallAsync(_a.Mint(Audience, extraHeader: critical)));
        var x5c = new Dictionary<string, object> { ["x5t"] = "nOo3ZDrODXEK1jKWhXslHR_KXEg", ["x5c"] = new[] { "MIIB" } };
        Assert.Equal((HttpStatusCode.Unauthorized, "untrusted_key_header"), await downstream.CallAsync(_a.Mint(Audience, extraHeader: x5c)));
    }

    [Fact]
    public async Task Verify_OutsideIssuerJwksUnreachableAtStart_ServiceStartsAndRefusesKeysUnavailable()
    {
        var down = new TrustedIssuer
        {
            Issuer = _a.Issuer, JwksUri = $"http://127.0.0.1:{BouncerServer.FreePort()}/jwks", Audience = Audience, Algorithms = ["RS256"],
        };
        await using var downstream = await Downstream.StartAsync(o => o.AddIssuer(down).AddIssuer(_b.Trusted(Audience)));
        Assert.Equal((HttpStatusCode.Unauthorized, "keys_unavailable"), await downstream.CallAsync(_a.Mint(Audience)));
        // The other issuer is unaffected.
        Assert.Equal(HttpStatusCode.OK, (await downstream.CallAsync(_b.Mint(Audience))).Status);
    }

    [Fact]
    public async Task Verify_OutsideTokenIssuerNotConfigured_IsRefusedUntrustedIssuer()
    {
        await using var downstream = await Downstream.StartAsync(o => o.AddIssuer(_a.Trusted(Audience)));
        Assert.Equal((HttpStatusCode.Unauthorized, "untrusted_issuer"), await downstream.CallAsync(_b.Mint(Audience)));
    }

    [Fact]
    public async Task Verify_OutsideTokenTypNotAccepted_IsRefusedBadTyp()
    {
        var strict = new TrustedIssuer { Issuer = _a.Issuer, JwksUri = _a.JwksUri, Audience = Audience, Algorithms = ["RS256"], AcceptedTypes = [] };
        await using var downstream = await Downstream.StartAsync(o => o.AddIssuer(strict));
        Assert.Equal((HttpStatusCode.Unauthorized, "bad_typ"), await downstream.CallAsync(_a.Mint(Audience, typ: "JWT")));
    }

    [Fact]
    public async Task Verify_OutsideTokenOtherAudience_IsRefusedBadAudience()
    {
        await using var downstream = await Downstream.StartAsync(o => o.AddIssuer(_a.Trusted(Audience)));
        Assert.Equal((HttpStatusCode.Unauthorized, "bad_audience"), await downstream.CallAsync(_a.Mint("billing")));
    }

    [Fact]
    public async Task Verify_KeyOfIssuerAClaimingIssuerB_IsRefused()
    {
        await using var downstream = await Downstream.StartAsync(o => o.AddIssuer(_a.Trusted(Audience)).AddIssuer(_b.Trusted(Audience)));
        Assert.Equal(HttpStatusCode.OK, (await downstream.CallAsync(_a.Mint(Audience))).Status);
        Assert.Equal(HttpStatusCode.OK, (await downstream.CallAsync(_b.Mint(Audience))).Status);

        // Signed by A, claiming B: with A's kid, B's set has no such key; with B's kid, A's signature fails B's key.
        Assert.Equal((HttpStatusCode.Unauthorized, "unknown_kid"), await downstream.CallAsync(_a.Mint(Audience, iss: _b.Issuer)));
        Assert.Equal((HttpStatusCode.Unauthorized, "bad_signature"), await downstream.CallAsync(_a.Mint(Audience, iss: _b.Issuer, kid: _b.Kid)));
    }

    [Fact]
    public async Task Verify_TokenWithJkuToListeningPort_RefusedAndNoConnectionMade()
    {
        using var trap = new TcpListener(IPAddress.Loopback, 0);
        trap.Start();
        int connections = 0;
        using var stop = new CancellationTokenSource();
        var accepting = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    using var client = await trap.AcceptTcpClientAsync(stop.Token);
                    Interlocked.Increment(ref connections);
                }
            }
            catch (OperationCanceledException) { }
        });
        var jku = $"http://127.0.0.1:{((IPEndPoint)trap.LocalEndpoint).Port}/jwks";
        await using var downstream = await Downstream.StartAsync(o => o.AddIssuer(_a.Trusted(Audience)));
        int jwksBefore = _a.JwksRequests;

        Assert.Equal((HttpStatusCode.Unauthorized, "untrusted_key_header"), await downstream.CallAsync(_a.Mint(Audience, jku: jku)));
        // An unknown kid with a jku: still no fetch from the jku, nor from the configured JWKS (the header is refused first).
        Assert.Equal((HttpStatusCode.Unauthorized, "untrusted_key_header"), await downstream.CallAsync(_a.Mint(Audience, jku: jku, kid: "attacker")));

        // Any fetch would have started during the calls above; a short grace lets a stray one arrive before the count.
        await Task.Delay(300);
        await stop.CancelAsync();
        await accepting;
        Assert.Equal(0, connections);
        Assert.Equal(jwksBefore, _a.JwksRequests);
    }

    [Fact]
    public async Task Verify_FloodOfUnknownKids_RefreshesJwksOncePerInterval()
    {
        await using var downstream = await Downstream.StartAsync(o =>
        {
            o.AddIssuer(_a.Trusted(Audience));
            o.UnknownKidRefreshInterval = TimeSpan.FromMinutes(5);
        });
        var keys = downstream.Verifier.KeysOf(_a.Issuer)!;
        Assert.Equal(1, keys.Loads);

        for (int i = 0; i < 50; i++)
            Assert.Equal((HttpStatusCode.Unauthorized, "unknown_kid"), await downstream.CallAsync(_a.Mint(Audience, kid: "bogus-" + i)));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (keys.Loads < 2 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(2, keys.Loads);
        Assert.Equal(2, _a.JwksRequests);
        // A valid token still passes: the flood costs the key server one request, and the service nothing.
        Assert.Equal(HttpStatusCode.OK, (await downstream.CallAsync(_a.Mint(Audience))).Status);
    }

    [Fact]
    public void OutsideJwksParse_KeyWithoutAlgOneAlgAllowed_IsPinnedToIt()
    {
        var set = OutsideJwks.Parse(RsaJwks(alg: null), [JwsAlgorithm.RS256]);
        Assert.Equal(JwsAlgorithm.RS256, Assert.Single(set.Keys).Algorithm);
    }

    [Fact]
    public void OutsideJwksParse_KeyWithoutAlgTwoAlgsAllowed_IsRefused()
    {
        var skipped = new List<string>();
        var ex = Assert.Throws<KeyLoadException>(() => OutsideJwks.Parse(RsaJwks(alg: null), [JwsAlgorithm.RS256, JwsAlgorithm.PS256], (_, r) => skipped.Add(r)));
        Assert.Equal("empty_jwks", ex.Reason);
        Assert.Equal(["missing_alg"], skipped);
    }

    [Fact]
    public void OutsideJwksParse_KeyWithoutAlgKtyDoesNotFit_IsRefused()
    {
        var ex = Assert.Throws<KeyLoadException>(() => OutsideJwks.Parse(RsaJwks(alg: null), [JwsAlgorithm.ES256]));
        Assert.Equal("empty_jwks", ex.Reason);
    }

    [Fact]
    public void OutsideJwksParse_KeyAlgNotAllowed_IsSkipped()
    {
        var skipped = new List<string>();
        Assert.Throws<KeyLoadException>(() => OutsideJwks.Parse(RsaJwks(alg: "PS256"), [JwsAlgorithm.RS256], (_, r) => skipped.Add(r)));
        Assert.Equal(["alg_not_allowed"], skipped);
    }

    [Fact]
    public void OutsideJwksParse_PrivateMemberPresent_IsSkipped()
    {
        var skipped = new List<string>();
        Assert.Throws<KeyLoadException>(() => OutsideJwks.Parse(RsaJwks(alg: "RS256", extra: ",\"d\":\"AQAB\""), [JwsAlgorithm.RS256], (_, r) => skipped.Add(r)));
        Assert.Equal(["not_public_key"], skipped);
    }

    [Fact]
    public void TrustedIssuer_Hs256Allowed_FailsValidation()
    {
        var options = new BouncerVerifierOptions().AddIssuer(new TrustedIssuer { Issuer = "x", JwksUri = "http://127.0.0.1/jwks", Audience = "a", Algorithms = ["HS256"] });
        Assert.Throws<InvalidOperationException>(options.Validate);
    }

    [Fact]
    public async Task PublishAsync_OnHttpChannel_ThrowsNotSupported()
    {
        using var http = new HttpClient();
        var channel = new HttpRevocationChannel(http, new Uri("http://127.0.0.1:1/auth/revocations"));
        var now = DateTimeOffset.UtcNow;
        await Assert.ThrowsAsync<NotSupportedException>(async () =>
            await channel.PublishAsync(new RevocationRecord(RevocationKind.User, "u", now, now), default));
    }

    [Theory]
    [InlineData("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2EuZXhhbXBsZSJ9.c2ln", "https://a.example")]
    [InlineData("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", null)]
    [InlineData("eyJhbGciOiJSUzI1NiJ9.!!!.c2ln", null)]
    [InlineData("no-dots", null)]
    [InlineData("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjF9.c2ln", null)]
    public void ReadUntrustedIssuer_VariousTokens_ReadsTopLevelIssOnly(string token, string? expected) =>
        Assert.Equal(expected, DownstreamVerifier.ReadUntrustedIssuer(token));

    [Theory]
    [InlineData("http://auth.internal:5000/.well-known/jwks.json", true)]
    [InlineData("HTTP://AUTH.internal:5000/keys", true)]
    [InlineData("http://auth.internal:5001/.well-known/jwks.json", false)]
    [InlineData("https://auth.internal:5000/.well-known/jwks.json", false)]
    [InlineData("http://evil.example/.well-known/jwks.json", false)]
    [InlineData("/relative/jwks.json", false)]
    public void SameOrigin_DiscoveryUrl_AcceptedOnlyOnTheAuthoritysOrigin(string url, bool accepted)
    {
        var authority = new Uri("http://auth.internal:5000/");
        if (accepted) Assert.Equal(new Uri(url), DownstreamVerifier.SameOrigin(authority, url, "jwks_uri"));
        else Assert.Throws<InvalidOperationException>(() => DownstreamVerifier.SameOrigin(authority, url, "jwks_uri"));
    }

    private static string RsaJwks(string? alg, string extra = "")
    {
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        var p = rsa.ExportParameters(false);
        var n = System.Buffers.Text.Base64Url.EncodeToString(p.Modulus);
        var e = System.Buffers.Text.Base64Url.EncodeToString(p.Exponent);
        var algMember = alg is null ? "" : $",\"alg\":\"{alg}\"";
        return $$"""{"keys":[{"kty":"RSA","kid":"k1","n":"{{n}}","e":"{{e}}"{{algMember}}{{extra}}}]}""";
    }
}
