using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Bouncer.Server.Tests;

/// <summary>POST /admin/keys/rotate and Bouncer:KeyPrePublicationDelay.</summary>
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

    [Fact]
    public async Task Start_NegativePrePublicationDelay_FailsNamingTheSetting()
    {
        await using var host = new BouncerHost(("Bouncer:KeyPrePublicationDelay", "-00:00:01"));
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => host.Client().GetAsync("/healthz"));
        Assert.True(ex.ToString().Contains("KeyPrePublicationDelay"), ex.ToString());
    }
}
