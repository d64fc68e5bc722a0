using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Bouncer.Server.Tests;

/// <summary>The signing-key admin endpoints (list, rotate, revoke) and Bouncer:KeyPrePublicationDelay.</summary>
public sealed class KeyRotationTests
{
    private static string Kid(string token) =>
        JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(token.Split('.')[0])).RootElement.GetProperty("kid").GetString()!;

    private static async Task<string> RotateAsync(BouncerHost host, string adminToken)
    {
        using var response = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/admin/keys/rotate", adminToken));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("kid").GetString()!;
    }

    private static async Task<IEnumerable<string>> PublishedKidsAsync(BouncerHost host)
    {
        var jwks = await host.Client().GetFromJsonAsync<JsonElement>("/.well-known/jwks.json");
        return jwks.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()!).ToList();
    }

    [Fact]
    public async Task RotateKeys_DefaultDelay_NewKeyPublishedButOldKeyStillSigns()
    {
        await using var host = new BouncerHost(("Bouncer:BootstrapAdmin", "root"));
        var admin = await host.LoginJwtAsync("root");
        var newKid = await RotateAsync(host, admin.AccessToken);

        Assert.Contains(newKid, await PublishedKidsAsync(host));
        Assert.Equal(Kid(admin.AccessToken), Kid((await host.LoginJwtAsync("root", register: false)).AccessToken));
    }

    [Fact]
    public async Task RotateKeys_ZeroDelay_NewKeySignsAndOldTokensStillPass()
    {
        await using var host = new BouncerHost(("Bouncer:BootstrapAdmin", "root"), ("Bouncer:KeyPrePublicationDelay", "00:00:00"));
        var admin = await host.LoginJwtAsync("root");
        var newKid = await RotateAsync(host, admin.AccessToken);

        // Activation times have one-second precision and grow strictly (KeyRing.RotateAsync): a ring created in this
        // same second activates the new key on the next one.
        var fresh = await host.LoginJwtAsync("root", register: false);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (Kid(fresh.AccessToken) != newKid && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            fresh = await host.LoginJwtAsync("root", register: false);
        }
        Assert.Equal(newKid, Kid(fresh.AccessToken));
        using var old = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", admin.AccessToken));
        Assert.Equal(HttpStatusCode.OK, old.StatusCode);
    }

    [Fact]
    public async Task RotateKeys_NotAdmin_IsForbidden()
    {
        await using var host = new BouncerHost(("Bouncer:BootstrapAdmin", "root"));
        var user = await host.LoginJwtAsync("alice");
        using var response = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/admin/keys/rotate", user.AccessToken));
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    private static async Task<JsonElement> ListAsync(BouncerHost host, string adminToken)
    {
        using var response = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/admin/keys", adminToken));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task ListKeys_ShowsTheSignerAndAPrePublishedKey_WithTheirStates()
    {
        await using var host = new BouncerHost(("Bouncer:BootstrapAdmin", "root"));
        var admin = await host.LoginJwtAsync("root");
        var signer = Kid(admin.AccessToken);
        var newKid = await RotateAsync(host, admin.AccessToken);

        var keys = (await ListAsync(host, admin.AccessToken)).EnumerateArray().ToDictionary(k => k.GetProperty("kid").GetString()!);
        Assert.Equal("signing", keys[signer].GetProperty("state").GetString());
        Assert.Equal("pending", keys[newKid].GetProperty("state").GetString());
        Assert.Equal("RS256", keys[newKid].GetProperty("alg").GetString());
        // Nothing private leaves the endpoint: no JWK members at all, let alone d, p or q.
        Assert.DoesNotContain(keys.Values, k => k.TryGetProperty("d", out _) || k.TryGetProperty("k", out _) || k.TryGetProperty("n", out _));
    }

    [Fact]
    public async Task RevokeSigningKey_ItsTokensAreRefusedAtOnce_AFreshKeySigns_AndTheKidLeavesTheJwks()
    {
        await using var host = new BouncerHost(("Bouncer:BootstrapAdmin", "root"));
        var admin = await host.LoginJwtAsync("root");
        var user = await host.LoginJwtAsync("alice");
        var compromised = Kid(admin.AccessToken);

        using var response = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, $"/admin/keys/{compromised}/revoke", admin.AccessToken));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(body.GetProperty("revoked").GetBoolean());
        var replacement = body.GetProperty("signing_kid").GetString();
        Assert.NotEqual(compromised, replacement);

        // Every token the key signed is dead, the admin's own included: no pre-publication wait for the replacement.
        using var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", user.AccessToken));
        Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
        Assert.DoesNotContain(compromised, await PublishedKidsAsync(host));
        var fresh = await host.LoginJwtAsync("alice", register: false);
        Assert.Equal(replacement, Kid(fresh.AccessToken));
        using var freshMe = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", fresh.AccessToken));
        Assert.Equal(HttpStatusCode.OK, freshMe.StatusCode);
    }

    [Fact]
    public async Task RevokeKey_UnknownKid_Is404_BadKid_Is400_NotAdmin_Is403()
    {
        await using var host = new BouncerHost(("Bouncer:BootstrapAdmin", "root"));
        var admin = await host.LoginJwtAsync("root");
        var user = await host.LoginJwtAsync("alice");

        using (var unknown = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/admin/keys/no-such-key/revoke", admin.AccessToken)))
            await Problem.AssertAsync(unknown, HttpStatusCode.NotFound, "key_not_found");
        using (var bad = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/admin/keys/bad%20kid!/revoke", admin.AccessToken)))
            await Problem.AssertAsync(bad, HttpStatusCode.BadRequest, "invalid_request");
        using (var forbidden = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, $"/admin/keys/{Kid(admin.AccessToken)}/revoke", user.AccessToken)))
            Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        using (var list = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/admin/keys", user.AccessToken)))
            Assert.Equal(HttpStatusCode.Forbidden, list.StatusCode);

        // The signer survived all three.
        using var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", admin.AccessToken));
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task RevokeKey_WithAnAdminsCookieFromAForeignOrigin_IsRefusedAsCsrf_AndTheKeyStays()
    {
        await using var host = new BouncerHost(("Bouncer:BootstrapAdmin", "root"));
        var admin = await host.LoginSessionAsync("root");
        var token = await host.LoginJwtAsync("alice");
        var signer = Kid(token.AccessToken);

        var request = BouncerHost.WithSession(HttpMethod.Post, $"/admin/keys/{signer}/revoke", admin.Cookie);
        request.Headers.Add("Origin", "https://evil.example");
        using var response = await host.SendAsync(request);
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "csrf_rejected");
        var rotate = BouncerHost.WithSession(HttpMethod.Post, "/admin/keys/rotate", admin.Cookie);
        rotate.Headers.Add("Sec-Fetch-Site", "cross-site");
        using var rotated = await host.SendAsync(rotate);
        await Problem.AssertAsync(rotated, HttpStatusCode.Forbidden, "csrf_rejected");

        Assert.Contains(signer, await PublishedKidsAsync(host));
        using var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", token.AccessToken));
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        // The same admin, same-origin, may list them with the cookie (a safe request needs no CSRF proof).
        using var list = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/admin/keys", admin.Cookie));
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
    }

    [Fact]
    public async Task Start_NegativePrePublicationDelay_FailsNamingTheSetting()
    {
        await using var host = new BouncerHost(("Bouncer:KeyPrePublicationDelay", "-00:00:01"));
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => host.Client().GetAsync("/healthz"));
        Assert.True(ex.ToString().Contains("KeyPrePublicationDelay"), ex.ToString());
    }
}
