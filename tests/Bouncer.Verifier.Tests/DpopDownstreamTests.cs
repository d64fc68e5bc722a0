using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Bouncer.Tests;

namespace Bouncer.Verifier.Tests;

/// <summary>DPoP (RFC 9449) at a downstream service: the same presentation rules as the server, through the verifier package.</summary>
[Collection(ServerCollection.Name)]
public sealed class DpopDownstreamTests(ServerFixture fixture) : IDisposable
{
    private readonly DpopClient _key = DpopClient.Es256();
    private readonly HttpClient _http = new();

    public void Dispose()
    {
        _key.Dispose();
        _http.Dispose();
    }

    private async Task<string> LoginBoundAsync()
    {
        var user = "d" + Guid.NewGuid().ToString("N")[..12];
        await fixture.Server.RegisterAsync(user);
        var request = new HttpRequestMessage(HttpMethod.Post, fixture.Server.BaseUrl + "/auth/login")
        {
            Content = JsonContent.Create(new { username = user, password = BouncerServer.Password, mode = "jwt" }),
        };
        request.Headers.Add("DPoP", _key.Proof("POST", fixture.Server.BaseUrl + "/auth/login"));
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("DPoP", body.GetProperty("token_type").GetString());
        return body.GetProperty("access_token").GetString()!;
    }

    private async Task<(HttpStatusCode Status, string? Reason, string Challenge)> CallAsync(Downstream downstream, string scheme, string token, string? proof)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, downstream.BaseUrl + "/whoami");
        request.Headers.TryAddWithoutValidation("Authorization", $"{scheme} {token}");
        if (proof is not null) request.Headers.Add("DPoP", proof);
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var reason = response.StatusCode == HttpStatusCode.OK ? text : JsonDocument.Parse(text).RootElement.GetProperty("reason").GetString();
        return (response.StatusCode, reason, response.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task BoundToken_AcceptedWithItsProof_RefusedEveryOtherWay()
    {
        var token = await LoginBoundAsync();
        var url = fixture.First.BaseUrl + "/whoami";
        using var thief = DpopClient.Es256();
        var proof = _key.Proof("GET", url, token);

        Assert.Equal(HttpStatusCode.OK, (await CallAsync(fixture.First, "DPoP", token, proof)).Status);
        // The proof names the first service: the second refuses it (htu), and a replay at the first is refused.
        Assert.Equal("dpop_htu_mismatch", (await CallAsync(fixture.Second, "DPoP", token, proof)).Reason);
        var replay = await CallAsync(fixture.First, "DPoP", token, proof);
        Assert.Equal((HttpStatusCode.Unauthorized, "dpop_proof_replayed"), (replay.Status, replay.Reason));
        Assert.StartsWith("DPoP error=\"invalid_dpop_proof\"", replay.Challenge);
        Assert.Equal("dpop_proof_missing", (await CallAsync(fixture.First, "DPoP", token, null)).Reason);
        Assert.Equal("dpop_htm_mismatch", (await CallAsync(fixture.First, "DPoP", token, _key.Proof("POST", url, token))).Reason);
        Assert.Equal("dpop_key_mismatch", (await CallAsync(fixture.First, "DPoP", token, thief.Proof("GET", url, token))).Reason);
        var downgrade = await CallAsync(fixture.First, "Bearer", token, null);
        Assert.Equal((HttpStatusCode.Unauthorized, "dpop_bound_token_as_bearer"), (downgrade.Status, downgrade.Reason));
        Assert.Contains("DPoP algs=", downgrade.Challenge);
        Assert.Equal(HttpStatusCode.OK, (await CallAsync(fixture.Second, "DPoP", token, _key.Proof("GET", fixture.Second.BaseUrl + "/whoami", token))).Status);
    }

    [Fact]
    public async Task ModeRequired_Downstream_RefusesUnboundTokens()
    {
        await using var strict = await Downstream.StartAsync(o =>
        {
            ServerFixture.Configure(o, fixture.Server.BaseUrl);
            o.Dpop.Mode = Bouncer.Dpop.DpopMode.Required;
        });
        var bearer = await fixture.Server.RegisterAndLoginAsync("d" + Guid.NewGuid().ToString("N")[..12]);
        Assert.Equal((HttpStatusCode.Unauthorized, "dpop_required"), await strict.CallAsync(bearer));

        var bound = await LoginBoundAsync();
        Assert.Equal(HttpStatusCode.OK, (await CallAsync(strict, "DPoP", bound, _key.Proof("GET", strict.BaseUrl + "/whoami", bound))).Status);
    }

    private async Task<HttpResponseMessage> SendAsync(string url, string token, string proof, string? host = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.TryAddWithoutValidation("Authorization", $"DPoP {token}");
        request.Headers.Add("DPoP", proof);
        if (host is not null) request.Headers.Host = host;
        return await _http.SendAsync(request);
    }

    private static string Reason(HttpResponseMessage response) =>
        JsonDocument.Parse(response.Content.ReadAsStringAsync().Result).RootElement.GetProperty("reason").GetString()!;

    [Fact]
    public async Task Htu_IsThePublicOriginOrTheListenAddress_NeverTheHostHeader()
    {
        var token = await LoginBoundAsync();
        // The client picks the Host header: a proof for the host it names proves nothing about this service.
        using (var spoofed = await SendAsync(fixture.First.BaseUrl + "/whoami", token, _key.Proof("GET", "http://evil.example/whoami", token), host: "evil.example"))
            Assert.Equal((HttpStatusCode.Unauthorized, "dpop_htu_mismatch"), (spoofed.StatusCode, Reason(spoofed)));

        // Behind a proxy: the configured origin alone counts, not the address the service listens on.
        await using var proxied = await Downstream.StartAsync(o =>
        {
            ServerFixture.Configure(o, fixture.Server.BaseUrl);
            o.PublicOrigin = "https://api.example";
        });
        using (var direct = await SendAsync(proxied.BaseUrl + "/whoami", token, _key.Proof("GET", proxied.BaseUrl + "/whoami", token)))
            Assert.Equal((HttpStatusCode.Unauthorized, "dpop_htu_mismatch"), (direct.StatusCode, Reason(direct)));
        using (var viaProxy = await SendAsync(proxied.BaseUrl + "/whoami", token, _key.Proof("GET", "https://api.example/whoami", token)))
            Assert.Equal(HttpStatusCode.OK, viaProxy.StatusCode);
    }

    [Fact]
    public async Task Htu_IsComparedWithTheRawPath_AnEncodedQuestionMarkIsNotAQuery()
    {
        var token = await LoginBoundAsync();
        var url = fixture.First.BaseUrl + "/items/a%3Fb";
        // RFC 9449 4.3 step 9: /items/a%3Fb is another resource than /items/a.
        using (var other = await SendAsync(url, token, _key.Proof("GET", fixture.First.BaseUrl + "/items/a", token)))
            Assert.Equal((HttpStatusCode.Unauthorized, "dpop_htu_mismatch"), (other.StatusCode, Reason(other)));
        using (var same = await SendAsync(url, token, _key.Proof("GET", url, token)))
            Assert.Equal((HttpStatusCode.OK, "a?b"), (same.StatusCode, await same.Content.ReadAsStringAsync()));
    }

    [Fact]
    public async Task RequireNonce_TwoInstancesWithTheSameKey_AcceptEachOthersNonces()
    {
        var nonceKey = System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        void Configure(BouncerVerifierOptions o)
        {
            ServerFixture.Configure(o, fixture.Server.BaseUrl);
            o.Dpop.RequireNonce = true;
            o.DpopNonceKey = nonceKey;
        }
        await using var a = await Downstream.StartAsync(Configure);
        await using var b = await Downstream.StartAsync(Configure);
        var token = await LoginBoundAsync();

        // RFC 9449 9: replica A asks for a nonce; replica B (behind the same load balancer) takes it.
        string nonce;
        using (var asked = await SendAsync(a.BaseUrl + "/whoami", token, _key.Proof("GET", a.BaseUrl + "/whoami", token)))
        {
            Assert.Equal((HttpStatusCode.Unauthorized, "use_dpop_nonce"), (asked.StatusCode, Reason(asked)));
            nonce = asked.Headers.GetValues("DPoP-Nonce").Single();
        }
        using (var taken = await SendAsync(b.BaseUrl + "/whoami", token, _key.Proof("GET", b.BaseUrl + "/whoami", token, nonce: nonce)))
            Assert.Equal(HttpStatusCode.OK, taken.StatusCode);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("c2hvcnQ")]
    [InlineData("not base64url, not 32 bytes at all!!!!!!!!")]
    public void RequireNonce_WithoutAValidSharedKey_IsRefusedAtStart_InOneLine(string? nonceKey)
    {
        var options = new BouncerVerifierOptions { Authority = "http://auth.internal:5000", Audience = "bouncer", DpopNonceKey = nonceKey };
        options.Dpop.RequireNonce = true;
        var error = Assert.Throws<InvalidOperationException>(options.Validate);
        Assert.StartsWith("BouncerVerifier:DpopNonceKey", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }
}
