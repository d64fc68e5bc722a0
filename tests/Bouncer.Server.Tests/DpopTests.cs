using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Bouncer.Tests;

namespace Bouncer.Server.Tests;

/// <summary>
/// DPoP (RFC 9449) through the server: token requests bind to the proof key (cnf.jkt, token_type DPoP, the refresh
/// family), resources accept a bound token only with a fresh proof by its key, and every refusal carries the RFC's error.
/// </summary>
public sealed class DpopTests : IDisposable
{
    private const string Origin = "https://localhost";
    private readonly DpopClient _key = DpopClient.Es256();

    public void Dispose() => _key.Dispose();

    private static HttpRequestMessage Request(HttpMethod method, string path, string? authorization = null, params string[] proofs)
    {
        var request = new HttpRequestMessage(method, path);
        if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
        foreach (var proof in proofs) request.Headers.TryAddWithoutValidation("DPoP", proof);
        return request;
    }

    private async Task<JsonElement> LoginAsync(BouncerHost host, string user, DpopClient? key, string? nonce = null, bool register = true, string origin = Origin)
    {
        if (register) await host.RegisterAsync(user);
        var request = Request(HttpMethod.Post, "/auth/login", null, key is null ? [] : [key.Proof("POST", origin + "/auth/login", nonce: nonce)]);
        request.Content = JsonContent.Create(new { username = user, password = Passwords.Good, mode = "jwt" });
        using var response = await host.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static string Reason(HttpResponseMessage response) =>
        JsonDocument.Parse(response.Content.ReadAsStringAsync().Result).RootElement.GetProperty("reason").GetString()!;

    private Task<HttpResponseMessage> MeAsync(BouncerHost host, string token, string? proof, string scheme = "DPoP") =>
        host.SendAsync(Request(HttpMethod.Get, "/api/me", $"{scheme} {token}", proof is null ? [] : [proof]));

    [Fact]
    public async Task Login_WithProof_BindsTheToken_AndAValidProofIsAccepted()
    {
        await using var host = new BouncerHost();
        var login = await LoginAsync(host, "alice", _key);
        var token = login.GetProperty("access_token").GetString()!;

        Assert.Equal("DPoP", login.GetProperty("token_type").GetString());
        Assert.Equal(_key.Thumbprint, Jwt.Payload(token).GetProperty("cnf").GetProperty("jkt").GetString());
        using var me = await MeAsync(host, token, _key.Proof("GET", Origin + "/api/me", token));
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal("alice", (await me.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sub").GetString());
    }

    [Fact]
    public async Task Login_WithoutProof_StaysBearer()
    {
        await using var host = new BouncerHost();
        var login = await LoginAsync(host, "alice", null);
        var token = login.GetProperty("access_token").GetString()!;

        Assert.Equal("Bearer", login.GetProperty("token_type").GetString());
        Assert.False(Jwt.Payload(token).TryGetProperty("cnf", out _));
        using var me = await MeAsync(host, token, null, "Bearer");
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        // An unbound token under the DPoP scheme is refused (RFC 9449 7.1).
        using var asDpop = await MeAsync(host, token, _key.Proof("GET", Origin + "/api/me", token));
        Assert.Equal(HttpStatusCode.Unauthorized, asDpop.StatusCode);
        Assert.Equal("dpop_token_not_bound", Reason(asDpop));
    }

    [Fact]
    public async Task BoundToken_EveryWrongPresentation_IsRefusedWithTheRfcError()
    {
        await using var host = new BouncerHost();
        var token = (await LoginAsync(host, "alice", _key)).GetProperty("access_token").GetString()!;
        using var thief = DpopClient.Es256();
        var replayed = _key.Proof("GET", Origin + "/api/me", token);
        using (var first = await MeAsync(host, token, replayed)) Assert.Equal(HttpStatusCode.OK, first.StatusCode);

        var cases = new (string Name, Func<Task<HttpResponseMessage>> Send, string Reason, string Challenge)[]
        {
            ("no proof", () => MeAsync(host, token, null), "dpop_proof_missing", "invalid_dpop_proof"),
            ("another URL", () => MeAsync(host, token, _key.Proof("GET", Origin + "/admin/users", token)), "dpop_htu_mismatch", "invalid_dpop_proof"),
            ("another method", () => MeAsync(host, token, _key.Proof("POST", Origin + "/api/me", token)), "dpop_htm_mismatch", "invalid_dpop_proof"),
            ("replayed", () => MeAsync(host, token, replayed), "dpop_proof_replayed", "invalid_dpop_proof"),
            ("another key", () => MeAsync(host, token, thief.Proof("GET", Origin + "/api/me", token)), "dpop_key_mismatch", "invalid_dpop_proof"),
            ("no ath", () => MeAsync(host, token, _key.Proof("GET", Origin + "/api/me")), "dpop_ath_mismatch", "invalid_dpop_proof"),
        };
        foreach (var (name, send, reason, error) in cases)
        {
            using var response = await send();
            Assert.True(HttpStatusCode.Unauthorized == response.StatusCode, name);
            Assert.Equal(reason, Reason(response));
            Assert.Equal($"DPoP error=\"{error}\", error_description=\"{reason}\", algs=\"ES256 EdDSA Ed25519 PS256 RS256\"", response.Headers.WwwAuthenticate.ToString());
        }

        // RFC 9449 7.2: presented as Bearer, the bound token is refused; the challenge says how to present it.
        using var downgrade = await MeAsync(host, token, null, "Bearer");
        Assert.Equal(HttpStatusCode.Unauthorized, downgrade.StatusCode);
        Assert.Equal("dpop_bound_token_as_bearer", Reason(downgrade));
        Assert.Equal(["Bearer realm=\"bouncer\", error=\"invalid_token\", error_description=\"dpop_bound_token_as_bearer\"", "DPoP algs=\"ES256 EdDSA Ed25519 PS256 RS256\""],
            downgrade.Headers.WwwAuthenticate.Select(h => h.ToString()));
        using var downgradeWithProof = await MeAsync(host, token, _key.Proof("GET", Origin + "/api/me", token), "Bearer");
        Assert.Equal(HttpStatusCode.Unauthorized, downgradeWithProof.StatusCode);
    }

    [Fact]
    public async Task BoundRefresh_NeedsAProofByTheFamilysKey()
    {
        await using var host = new BouncerHost();
        var refreshToken = (await LoginAsync(host, "alice", _key)).GetProperty("refresh_token").GetString()!;
        using var thief = DpopClient.Es256();

        async Task<HttpResponseMessage> RefreshAsync(DpopClient? key)
        {
            var request = Request(HttpMethod.Post, "/auth/refresh", null, key is null ? [] : [key.Proof("POST", Origin + "/auth/refresh")]);
            request.Content = JsonContent.Create(new { refresh_token = refreshToken });
            return await host.SendAsync(request);
        }

        using (var bare = await RefreshAsync(null))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bare.StatusCode);
            var body = await bare.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(("invalid_dpop_proof", "dpop_proof_missing"), (body.GetProperty("error").GetString(), body.GetProperty("reason").GetString()));
        }
        using (var stolen = await RefreshAsync(thief))
        {
            Assert.Equal(HttpStatusCode.BadRequest, stolen.StatusCode);
            Assert.Equal("dpop_key_mismatch", Reason(stolen));
        }
        using var good = await RefreshAsync(_key);
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        var next = await good.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("DPoP", next.GetProperty("token_type").GetString());
        Assert.Equal(_key.Thumbprint, Jwt.Payload(next.GetProperty("access_token").GetString()!).GetProperty("cnf").GetProperty("jkt").GetString());
    }

    [Fact]
    public async Task Nonce_Required_TokenEndpointAndResourceHandOutTheNonce()
    {
        await using var host = new BouncerHost(("Bouncer:Dpop:RequireNonce", "true"));
        await host.RegisterAsync("alice");
        var request = Request(HttpMethod.Post, "/auth/login", null, _key.Proof("POST", Origin + "/auth/login"));
        request.Content = JsonContent.Create(new { username = "alice", password = Passwords.Good, mode = "jwt" });
        using var asked = await host.SendAsync(request);

        // RFC 9449 8: 400 use_dpop_nonce with the nonce to use.
        Assert.Equal(HttpStatusCode.BadRequest, asked.StatusCode);
        Assert.Equal("use_dpop_nonce", (await asked.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        var nonce = asked.Headers.GetValues("DPoP-Nonce").Single();
        var token = (await LoginAsync(host, "alice", _key, nonce, register: false)).GetProperty("access_token").GetString()!;

        // RFC 9449 9: the resource asks the same way, in its challenge.
        using var without = await MeAsync(host, token, _key.Proof("GET", Origin + "/api/me", token));
        Assert.Equal(HttpStatusCode.Unauthorized, without.StatusCode);
        Assert.StartsWith("DPoP error=\"use_dpop_nonce\"", without.Headers.WwwAuthenticate.ToString());
        Assert.Equal(nonce, without.Headers.GetValues("DPoP-Nonce").Single());
        using var with = await MeAsync(host, token, _key.Proof("GET", Origin + "/api/me", token, nonce: nonce));
        Assert.Equal(HttpStatusCode.OK, with.StatusCode);
    }

    [Fact]
    public async Task ModeRequired_LoginWithoutProofAndBearerTokens_AreRefused()
    {
        await using var host = new BouncerHost(("Bouncer:Dpop:Mode", "Required"));
        await host.RegisterAsync("alice");
        using var bare = await host.Client().PostAsJsonAsync("/auth/login", new { username = "alice", password = Passwords.Good, mode = "jwt" });
        Assert.Equal(HttpStatusCode.BadRequest, bare.StatusCode);
        Assert.Equal("dpop_proof_missing", Reason(bare));

        var token = (await LoginAsync(host, "alice", _key, register: false)).GetProperty("access_token").GetString()!;
        using var me = await MeAsync(host, token, _key.Proof("GET", Origin + "/api/me", token));
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        using var anonymous = await host.SendAsync(Request(HttpMethod.Get, "/api/me", "Bearer not-a-token"));
        Assert.Contains("DPoP", anonymous.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task ModeOff_ProofIgnored_TokensStayBearer()
    {
        await using var host = new BouncerHost(("Bouncer:Dpop:Mode", "Off"));
        var login = await LoginAsync(host, "alice", _key);
        Assert.Equal("Bearer", login.GetProperty("token_type").GetString());
        Assert.False(Jwt.Payload(login.GetProperty("access_token").GetString()!).TryGetProperty("cnf", out _));
    }

    [Fact]
    public async Task RequiredAudience_ExchangeNeedsAProof_AndBindsTheToken()
    {
        await using var host = new BouncerHost(("Bouncer:Dpop:RequiredAudiences:0", "orders-api"));
        var session = await host.LoginSessionAsync("alice");
        using var bare = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/token", session.Cookie, new { audience = "orders-api" }));
        Assert.Equal(HttpStatusCode.BadRequest, bare.StatusCode);
        Assert.Equal("dpop_proof_missing", Reason(bare));

        var request = BouncerHost.WithSession(HttpMethod.Post, "/auth/token", session.Cookie, new { audience = "orders-api" });
        request.Headers.Add("DPoP", _key.Proof("POST", Origin + "/auth/token"));
        using var bound = await host.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, bound.StatusCode);
        var body = await bound.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("DPoP", body.GetProperty("token_type").GetString());
        Assert.Equal(_key.Thumbprint, Jwt.Payload(body.GetProperty("access_token").GetString()!).GetProperty("cnf").GetProperty("jkt").GetString());
        // Another audience is not required: it stays a bearer exchange.
        using var other = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/token", session.Cookie, new { audience = "billing" }));
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
    }

    [Fact]
    public async Task Login_BadProof_IsRefusedBeforeThePassword()
    {
        await using var host = new BouncerHost();
        await host.RegisterAsync("alice");
        var request = Request(HttpMethod.Post, "/auth/login", null, _key.Proof("POST", Origin + "/auth/refresh"));
        request.Content = JsonContent.Create(new { username = "alice", password = "wrong password here", mode = "jwt" });
        using var response = await host.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(("invalid_dpop_proof", "dpop_htu_mismatch"), (body.GetProperty("error").GetString(), body.GetProperty("reason").GetString()));
    }

    [Fact]
    public async Task Login_RefusedProofs_CountAsFailedLogins_AndAThrottledAddressHasNoProofChecked()
    {
        await using var host = new BouncerHost(("Bouncer:LoginFailuresPerMinute", "3"));
        await host.RegisterAsync("alice");
        HttpRequestMessage Login(string proofUrl)
        {
            var request = Request(HttpMethod.Post, "/auth/login", null, _key.Proof("POST", proofUrl));
            request.Content = JsonContent.Create(new { username = "alice", password = Passwords.Good, mode = "jwt" });
            return request;
        }
        for (int i = 0; i < 3; i++)
        {
            using var refused = await host.SendAsync(Login(Origin + "/auth/refresh"));
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal("dpop_htu_mismatch", Reason(refused));
        }
        // The address has used its failures: a login with a good proof and the right password is throttled, and so is
        // one with a bad proof, before its proof is looked at (nothing reaches the replay cache faster than logins may).
        using var good = await host.SendAsync(Login(Origin + "/auth/login"));
        Assert.Equal((HttpStatusCode.TooManyRequests, "rate_limited"), (good.StatusCode, Reason(good)));
        using var bad = await host.SendAsync(Login(Origin + "/auth/refresh"));
        Assert.Equal((HttpStatusCode.TooManyRequests, "rate_limited"), (bad.StatusCode, Reason(bad)));
    }

    [Fact]
    public async Task Htu_WithoutPublicOrigin_IsTheIssuersOrigin_NeverTheHostHeader()
    {
        // Discovery's origin: no PublicOrigin, an https issuer.
        const string issuerOrigin = "https://id.example";
        await using var host = new BouncerHost(("Bouncer:PublicOrigin", null), ("Bouncer:Issuer", issuerOrigin));
        var token = (await LoginAsync(host, "alice", _key, origin: issuerOrigin)).GetProperty("access_token").GetString()!;

        // The client picks the Host header: a proof for the host it names proves nothing about this server.
        var spoofed = Request(HttpMethod.Get, "https://evil.example/api/me", $"DPoP {token}", _key.Proof("GET", "https://evil.example/api/me", token));
        using var refused = await host.SendAsync(spoofed);
        Assert.Equal((HttpStatusCode.Unauthorized, "dpop_htu_mismatch"), (refused.StatusCode, Reason(refused)));
        using var accepted = await MeAsync(host, token, _key.Proof("GET", issuerOrigin + "/api/me", token));
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
    }

    [Fact]
    public async Task Htu_IsComparedWithTheRawPath_AnEncodedQuestionMarkIsNotAQuery()
    {
        await using var host = new BouncerHost();
        var token = (await LoginAsync(host, "alice", _key)).GetProperty("access_token").GetString()!;

        // RFC 9449 4.3 step 9: /auth/sessions/a%3Fb is another resource than /auth/sessions/a (%3F is not a query).
        var other = Request(HttpMethod.Delete, "/auth/sessions/a%3Fb", $"DPoP {token}", _key.Proof("DELETE", Origin + "/auth/sessions/a", token));
        using var refused = await host.SendAsync(other);
        Assert.Equal((HttpStatusCode.Unauthorized, "dpop_htu_mismatch"), (refused.StatusCode, Reason(refused)));
        // The proof for the URL as sent passes (and the endpoint answers: no such session).
        var same = Request(HttpMethod.Delete, "/auth/sessions/a%3Fb", $"DPoP {token}", _key.Proof("DELETE", Origin + "/auth/sessions/a%3Fb", token));
        using var accepted = await host.SendAsync(same);
        Assert.Equal((HttpStatusCode.NotFound, "session_not_found"), (accepted.StatusCode, Reason(accepted)));
    }

    [Fact]
    public async Task Logout_OfABoundFamily_NeedsAProofByItsKey()
    {
        await using var host = new BouncerHost();
        var login = await LoginAsync(host, "alice", _key);
        var refreshToken = login.GetProperty("refresh_token").GetString()!;
        using var thief = DpopClient.Es256();

        Task<HttpResponseMessage> LogoutAsync(DpopClient? key, string? accessToken = null)
        {
            var request = Request(HttpMethod.Post, "/auth/logout", accessToken is null ? null : $"DPoP {accessToken}",
                key is null ? [] : [key.Proof("POST", Origin + "/auth/logout", accessToken)]);
            request.Content = JsonContent.Create(new { refresh_token = refreshToken });
            return host.SendAsync(request);
        }
        async Task<HttpStatusCode> RefreshAsync()
        {
            var request = Request(HttpMethod.Post, "/auth/refresh", null, _key.Proof("POST", Origin + "/auth/refresh"));
            request.Content = JsonContent.Create(new { refresh_token = refreshToken });
            using var response = await host.SendAsync(request);
            if (response.StatusCode == HttpStatusCode.OK)
                refreshToken = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("refresh_token").GetString()!;
            return response.StatusCode;
        }

        // RFC 9449 5, 7.1: whoever holds only the refresh token cannot end the bound family (as they cannot refresh it).
        foreach (var (key, reason) in new[] { ((DpopClient?)null, "dpop_proof_missing"), (thief, "dpop_key_mismatch") })
        {
            using var refused = await LogoutAsync(key);
            Assert.Equal((HttpStatusCode.Unauthorized, reason), (refused.StatusCode, Reason(refused)));
            Assert.StartsWith($"DPoP error=\"invalid_dpop_proof\", error_description=\"{reason}\"", refused.Headers.WwwAuthenticate.ToString());
        }
        Assert.Equal(HttpStatusCode.OK, await RefreshAsync());

        // The key's holder ends it with a proof.
        using (var own = await LogoutAsync(_key)) Assert.Equal(HttpStatusCode.NoContent, own.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, await RefreshAsync());

        // A bound access token presented with its proof is that proof: the logout needs no second one.
        var second = await LoginAsync(host, "alice", _key, register: false);
        refreshToken = second.GetProperty("refresh_token").GetString()!;
        using (var withToken = await LogoutAsync(_key, second.GetProperty("access_token").GetString()!)) Assert.Equal(HttpStatusCode.NoContent, withToken.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, await RefreshAsync());
    }
}
