using Microsoft.Extensions.DependencyInjection;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Bouncer.Server.Tests;

/// <summary>JWKS, discovery and the revocation feed.</summary>
public sealed class DiscoveryTests
{
    [Fact]
    public async Task Jwks_Default_PublishesOnlyPublicMembers()
    {
        await using var host = new BouncerHost();
        using var response = await host.Client().GetAsync("/.well-known/jwks.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/jwk-set+json", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        var keys = JsonDocument.Parse(text).RootElement.GetProperty("keys").EnumerateArray().ToList();
        Assert.NotEmpty(keys);
        foreach (var key in keys)
        {
            foreach (var secret in new[] { "d", "p", "q", "dp", "dq", "qi", "k" })
                Assert.False(key.TryGetProperty(secret, out _), $"JWKS leaks private member '{secret}'");
            Assert.NotEqual("oct", key.GetProperty("kty").GetString());
            Assert.True(key.TryGetProperty("kid", out _));
        }
        Assert.DoesNotContain("\"oct\"", text);
    }

    [Fact]
    public async Task Jwks_TokenKid_IsPublished()
    {
        await using var host = new BouncerHost();
        var pair = await host.LoginJwtAsync("alice");
        var header = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(pair.AccessToken.Split('.')[0])).RootElement;
        using var response = await host.Client().GetAsync("/.well-known/jwks.json");
        var keys = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("keys");
        Assert.Contains(keys.EnumerateArray(), k => k.GetProperty("kid").GetString() == header.GetProperty("kid").GetString());
        Assert.Equal("RS256", header.GetProperty("alg").GetString());   // the default, chosen by measurement
    }

    [Fact]
    public async Task OpenIdConfiguration_Default_IssuerMatchesTokensIss()
    {
        await using var host = new BouncerHost();
        var pair = await host.LoginJwtAsync("alice");
        using var response = await host.Client().GetAsync("/.well-known/openid-configuration");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var config = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(Jwt.Payload(pair.AccessToken).GetProperty("iss").GetString(), config.GetProperty("issuer").GetString());
        Assert.Equal("https://localhost/.well-known/jwks.json", config.GetProperty("jwks_uri").GetString());
        Assert.Contains("RS256", config.GetProperty("id_token_signing_alg_values_supported").EnumerateArray().Select(a => a.GetString()));
    }

    [Fact]
    public async Task OpenIdConfiguration_ConfiguredIssuer_IsUsedInTokens()
    {
        await using var host = new BouncerHost(("Bouncer:Issuer", "https://auth.example"));
        var pair = await host.LoginJwtAsync("alice");
        using var response = await host.Client().GetAsync("/.well-known/openid-configuration");
        var config = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("https://auth.example", config.GetProperty("issuer").GetString());
        Assert.Equal("https://auth.example", Jwt.Payload(pair.AccessToken).GetProperty("iss").GetString());
    }

    [Fact]
    public async Task Revocations_HeldWithHeartbeat_SendsSpacesThenTheSameJson()
    {
        await using var host = new BouncerHost();
        using var response = await host.FeedClient().GetAsync("/auth/revocations?after=0&wait=2&heartbeat=1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Headers.Contains(Bouncer.AspNetCore.BouncerEndpoints.FeedHeartbeatHeader));
        var body = await response.Content.ReadAsStringAsync();
        Assert.StartsWith(" ", body);   // at least one beat while the answer was held
        var feed = JsonDocument.Parse(body).RootElement;
        Assert.Equal(0, feed.GetProperty("cursor").GetInt64());
        Assert.Empty(feed.GetProperty("revocations").EnumerateArray());

        // Without heartbeat=1, or with entries ready, the answer is the plain one.
        using var plain = await host.FeedClient().GetAsync("/auth/revocations?after=0&wait=0&heartbeat=1");
        Assert.False(plain.Headers.Contains(Bouncer.AspNetCore.BouncerEndpoints.FeedHeartbeatHeader));
    }

    [Fact]
    public async Task Revocations_AfterLogoutAll_FeedHasEntries()
    {
        await using var host = new BouncerHost();
        var pair = await host.LoginJwtAsync("alice");
        using (var empty = await host.FeedClient().GetAsync("/auth/revocations?after=0&wait=0"))
        {
            Assert.Equal(HttpStatusCode.OK, empty.StatusCode);
            Assert.Empty((await empty.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("revocations").EnumerateArray());
        }
        using (var logout = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/auth/logout-all", pair.AccessToken)))
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);

        using var response = await host.FeedClient().GetAsync("/auth/revocations?after=0&wait=0");
        var feed = await response.Content.ReadFromJsonAsync<JsonElement>();
        var entries = feed.GetProperty("revocations").EnumerateArray().ToList();
        Assert.NotEmpty(entries);
        Assert.Contains(entries, e => e.GetProperty("kind").GetString() == "user" && e.GetProperty("subject").GetString() == "alice");
        // The sign-out goes out as a user cut-off, beside the families' cut-off and the plain one the sessions' half sends
        // for older instances: only kinds every verifier version reads.
        Assert.Equal(3, entries.Count(e => e.GetProperty("kind").GetString() == "user" && e.GetProperty("subject").GetString() == "alice"));
        Assert.All(entries, e => Assert.Contains(e.GetProperty("kind").GetString(), new[] { "session", "token", "user", "everyone", "key" }));
        Assert.Equal(entries[^1].GetProperty("cursor").GetInt64(), feed.GetProperty("cursor").GetInt64());

        // Reading after the last cursor gives nothing new.
        using var after = await host.FeedClient().GetAsync($"/auth/revocations?after={feed.GetProperty("cursor").GetInt64()}&wait=0");
        Assert.Empty((await after.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("revocations").EnumerateArray());
    }

    [Fact]
    public async Task Revocations_LongPollDuringRevocation_ReturnsWithTheEntry()
    {
        await using var host = new BouncerHost();
        var pair = await host.LoginJwtAsync("alice");
        using var start = await host.FeedClient().GetAsync("/auth/revocations?after=0&wait=0");
        var cursor = (await start.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("cursor").GetInt64();

        var poll = host.FeedClient().GetAsync($"/auth/revocations?after={cursor}&wait=5");
        await Task.Delay(300);
        using (var logout = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/auth/logout-all", pair.AccessToken)))
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);

        using var response = await poll;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var entries = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("revocations").EnumerateArray().ToList();
        Assert.NotEmpty(entries);
        Assert.All(entries, e => Assert.True(e.GetProperty("cursor").GetInt64() > cursor));
        Assert.Contains(entries, e => e.GetProperty("subject").GetString() == "alice");
    }

    [Fact]
    public async Task RevocationFeed_ByDefault_NeedsTheDeploymentsGeneratedKey_EvenWithTheLoopbackOption()
    {
        // Issue 14 finding 10: the feed names revoked users; it is never open by default.
        await using var host = new BouncerHost(("Bouncer:RevocationFeedAccess", "KeyOrLoopback"));
        using var missing = await host.Client().GetAsync("/auth/revocations?after=0&wait=0");
        await Problem.AssertAsync(missing, HttpStatusCode.Unauthorized, "feed_key_invalid");   // not from loopback: the opt-out does not apply
        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/auth/revocations?after=0&wait=0") { Headers = { { "X-Bouncer-Feed-Key", "guess" } } };
        await Problem.AssertAsync(await host.SendAsync(wrong), HttpStatusCode.Unauthorized, "feed_key_invalid");

        using var keyed = await host.FeedClient().GetAsync("/auth/revocations?after=0&wait=0");
        Assert.Equal(HttpStatusCode.OK, keyed.StatusCode);
        // The key is a secret of the deployment: 32 random bytes, stored encrypted like the signing keys.
        var key = host.Services.GetRequiredService<Bouncer.Revocation.RevocationFeedKey>().Value;
        Assert.Equal(43, key.Length);
        var stored = await host.Runtime.Stores.Secrets.GetAsync("revocation-feed-key", default);
        Assert.StartsWith("bouncer-enc:v1:", stored);
        Assert.DoesNotContain(key, stored!);
    }

    [Fact]
    public async Task RevocationFeed_WithAKeyConfigured_RefusesReadersWithoutIt()
    {
        using var host = new BouncerHost(("Bouncer:RevocationFeedKey", "feed-secret-123"));

        using var missing = await host.FeedClient().GetAsync("/auth/revocations?after=0&wait=0");
        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/auth/revocations?after=0&wait=0") { Headers = { { "X-Bouncer-Feed-Key", "feed-secret-124" } } };
        using var right = new HttpRequestMessage(HttpMethod.Get, "/auth/revocations?after=0&wait=0") { Headers = { { "X-Bouncer-Feed-Key", "feed-secret-123" } } };

        await Problem.AssertAsync(missing, System.Net.HttpStatusCode.Unauthorized, "feed_key_invalid");
        await Problem.AssertAsync(await host.SendAsync(wrong), System.Net.HttpStatusCode.Unauthorized, "feed_key_invalid");
        Assert.Equal(System.Net.HttpStatusCode.OK, (await host.SendAsync(right)).StatusCode);
    }

    [Fact]
    public async Task TraceHeaders_InProductionByDefault_AreNotSent()
    {
        await using var host = new BouncerHost();
        var pair = await host.LoginJwtAsync("alice");

        using var response = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", pair.AccessToken));

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Bouncer-Trace"));
        Assert.False(response.Headers.Contains("Server-Timing"));
    }
}
