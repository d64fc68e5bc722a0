using System.Net;
using System.Net.Http.Json;
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
}
