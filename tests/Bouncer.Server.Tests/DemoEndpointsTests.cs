using System.Net;
using System.Net.Http.Json;

namespace Bouncer.Server.Tests;

/// <summary>The simulator controls: absent in Production, each acting on the caller's own credential only.</summary>
public sealed class DemoEndpointsTests
{
    [Theory]
    [InlineData("GET", "/demo/state")]
    [InlineData("POST", "/demo/push")]
    [InlineData("POST", "/demo/expire")]
    public async Task Demo_Production_Returns404(string method, string path)
    {
        await using var host = new BouncerHost();
        var pair = await host.LoginJwtAsync("alice");
        using var response = await host.SendAsync(BouncerHost.WithBearer(new HttpMethod(method), path, pair.AccessToken, method == "POST" ? new { enabled = false } : null));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Null(host.Runtime.Demo);   // the demo host's switches are not even registered
    }

    [Fact]
    public async Task DemoState_Development_Returns200()
    {
        await using var host = new BouncerHost("Development");
        using var response = await host.Client().GetAsync("/demo/state");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task DemoState_NamesTheAudienceAnExchangedTokenNeedsForApiMe()
    {
        await using var host = new BouncerHost("Development", ("Bouncer:Audience", "shop"));
        using var response = await host.Client().GetAsync("/demo/state");
        var state = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        Assert.Equal("shop", state.GetProperty("audience").GetString());
        Assert.Equal(120, state.GetProperty("exchange_token_lifetime").GetInt32());

        var login = await host.LoginSessionAsync("alice");
        using var exchange = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/token", login.Cookie, new { audience = "shop" }));
        var token = (await exchange.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("access_token").GetString()!;
        using var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", token));
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task DemoState_ProductionWithDemoSetting_Returns200()
    {
        await using var host = new BouncerHost(("Bouncer:Demo", "true"));
        using var response = await host.Client().GetAsync("/demo/state");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task DemoExpire_Jwt_CallersTokenExpiresOthersStillWork()
    {
        await using var host = new BouncerHost("Development");
        var alice = await host.LoginJwtAsync("alice");
        var bob = await host.LoginJwtAsync("bob");
        using (var expire = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/demo/expire", alice.AccessToken)))
            Assert.Equal(HttpStatusCode.OK, expire.StatusCode);

        using (var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", alice.AccessToken)))
        {
            await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "token_expired");
            Assert.Contains("error_description=\"token_expired\"", Problem.BearerError(me));
        }
        using (var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", bob.AccessToken)))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task DemoExpire_Session_CallersSessionEndsOthersStillWork()
    {
        await using var host = new BouncerHost("Development");
        var alice = await host.LoginSessionAsync("alice");
        var alice2 = await host.LoginSessionAsync("alice", register: false);
        var bob = await host.LoginSessionAsync("bob");
        using (var expire = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/demo/expire", alice.Cookie)))
            Assert.Equal(HttpStatusCode.OK, expire.StatusCode);

        using (var me = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", alice.Cookie)))
            await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "session_invalid");
        using (var me = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", alice2.Cookie)))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        using (var me = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", bob.Cookie)))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task DemoExpire_Anonymous_Returns401()
    {
        await using var host = new BouncerHost("Development");
        using var response = await host.Client().PostAsync("/demo/expire", null);
        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "credential_missing");
    }

    [Fact]
    public async Task DemoPush_Anonymous_Returns401()
    {
        await using var host = new BouncerHost("Development");
        using var response = await host.Client().PostAsJsonAsync("/demo/push", new { enabled = false });
        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "credential_missing");
    }

    [Fact]
    public async Task DemoPush_Off_AcceptsOnlyTheCallersOwnRevokedTokens()
    {
        await using var host = new BouncerHost("Development");
        var alice = await host.LoginJwtAsync("alice");
        var bob = await host.LoginJwtAsync("bob");
        using (var off = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/demo/push", alice.AccessToken, new { enabled = false })))
            Assert.False((await off.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("push").GetBoolean());
        foreach (var token in new[] { alice.AccessToken, bob.AccessToken })
            using (var revoke = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/demo/revoke", token)))
                Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);

        // Alice switched the push off for her own tokens: the plain-JWT paradox, for her alone.
        using (var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", alice.AccessToken)))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        // Bob did not: another visitor's switch changes nothing for his requests.
        using (var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", bob.AccessToken)))
            await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "token_revoked");
        Assert.False(host.Runtime.Demo!.PushEnabledFor(Sid(alice.AccessToken)));
        Assert.True(host.Runtime.Demo!.PushEnabledFor(Sid(bob.AccessToken)));
    }

    [Fact]
    public async Task DemoPush_Off_CoversThatCredentialOnly_NotTheUsersOthers()
    {
        await using var host = new BouncerHost("Development");
        var first = await host.LoginJwtAsync("alice");
        var second = await host.LoginJwtAsync("alice", register: false);
        using (var off = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/demo/push", first.AccessToken, new { enabled = false })))
            Assert.Equal(HttpStatusCode.OK, off.StatusCode);
        using (var revoke = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/demo/revoke", second.AccessToken)))
            Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);

        using (var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", first.AccessToken)))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        using (var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", second.AccessToken)))
            await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "token_revoked");
    }

    private static string Sid(string token)
    {
        var payload = token.Split('.')[1];
        using var doc = System.Text.Json.JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(payload));
        return doc.RootElement.GetProperty("sid").GetString()!;
    }

    [Fact]
    public async Task DemoPush_CrossSiteWithSessionCookie_IsRefused()
    {
        await using var host = new BouncerHost("Development");
        var alice = await host.LoginSessionAsync("alice");
        var request = BouncerHost.WithSession(HttpMethod.Post, "/demo/push", alice.Cookie, new { enabled = false });
        request.Headers.Add("Origin", "https://evil.test");
        using var response = await host.SendAsync(request);
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "csrf_rejected");
        using var sessions = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/auth/sessions", alice.Cookie));
        var handle = (await sessions.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>())[0].GetProperty("id").GetString();
        Assert.True(host.Runtime.Demo!.PushEnabledFor(handle));
    }

    [Fact]
    public async Task DemoExpire_Jwt_RefreshedTokenWorksAgain()
    {
        await using var host = new BouncerHost("Development");
        var alice = await host.LoginJwtAsync("alice");
        using (var expire = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/demo/expire", alice.AccessToken)))
            Assert.Equal(HttpStatusCode.OK, expire.StatusCode);
        using var refreshed = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = alice.RefreshToken });
        var next = await TokenPair.ReadAsync(refreshed);

        using (var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", alice.AccessToken)))
            await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "token_expired");
        using (var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", next.AccessToken)))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }
}
