using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Bouncer.Tokens;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace Bouncer.Server.Tests;

/// <summary>
/// A stock ASP.NET Core app with AddJwtBearer pointed at a Bouncer server on real Kestrel: discovery and
/// JWKS are all it needs to accept Bouncer access tokens, and a key removed from the JWKS stops them.
/// </summary>
public sealed class JwtBearerInteropTests
{
    [Fact]
    public async Task JwtBearer_BouncerAccessToken_AcceptedThroughDiscoveryAndRefusedAfterKeyRemoval()
    {
        await using var bouncer = new BouncerHost(("urls", "http://127.0.0.1:0"), ("Bouncer:PublicOrigin", null));   // discovery names the bound Kestrel address
        bouncer.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        bouncer.StartServer();
        var authority = bouncer.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        Assert.StartsWith("http://127.0.0.1:", authority);

        using var http = new HttpClient { BaseAddress = new Uri(authority) };
        using (var register = await http.PostAsJsonAsync("/auth/register", new { username = "alice", password = Passwords.Good }))
            Assert.Equal(HttpStatusCode.Created, register.StatusCode);
        var oldToken = await LoginAsync(http);

        var configuration = new ConfigurationManager<OpenIdConnectConfiguration>(
            authority + "/.well-known/openid-configuration", new OpenIdConnectConfigurationRetriever(), new HttpDocumentRetriever { RequireHttps = false })
        {
            // The stock defaults re-read discovery every 12 h and, on a signature failure, retry with the
            // "last known good" configuration for an hour: a removed key keeps working that long. A
            // relying party that wants removal to bite at once turns that off; so does this test.
            RefreshInterval = TimeSpan.FromSeconds(1),
            UseLastKnownGoodConfiguration = false,
        };
        await using var stock = await StartStockAppAsync(authority, configuration);
        using var client = stock.GetTestClient();

        using (var accepted = await CallAsync(client, oldToken))
        {
            Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
            Assert.Equal("alice", await accepted.Content.ReadAsStringAsync());
        }
        using (var tampered = await CallAsync(client, oldToken[..^4] + (oldToken[^4] == 'A' ? "BBBB" : "AAAA")))
            Assert.Equal(HttpStatusCode.Unauthorized, tampered.StatusCode);

        // Replace the stored key set with a freshly generated ring: the old key leaves the JWKS.
        var runtime = bouncer.Runtime;
        var fresh = new MemoryKeyStore();
        await KeyRing.LoadOrCreateAsync(fresh, new KeyRingOptions { Algorithm = runtime.Options.SigningAlgorithm, ClockSkew = TimeSpan.FromSeconds(30) }, TimeProvider.System);
        // Stored as the engine stores it: encrypted with the deployment's key (a plain key set is refused).
        using (var protector = Bouncer.Secrets.KeyFileSecretProtector.FromKey(Bouncer.Tests.TestKeyEncryption.Key))
            await runtime.Stores.Secrets.SetAsync("signing-keys", protector.Protect("signing-keys", fresh.Value!), default);
        await runtime.Keys.ReloadAsync();
        var oldKid = Kid(oldToken);
        using (var jwks = await http.GetAsync("/.well-known/jwks.json"))
            Assert.DoesNotContain(oldKid, await jwks.Content.ReadAsStringAsync());

        // The stock app picks the new JWKS up on its next configuration refresh; then the old token is refused.
        configuration.RequestRefresh();
        var refused = await EventuallyAsync(async () =>
        {
            using var response = await CallAsync(client, oldToken);
            if (response.StatusCode == HttpStatusCode.OK) configuration.RequestRefresh();
            return response.StatusCode == HttpStatusCode.Unauthorized ? response.Headers.WwwAuthenticate.ToString() : null;
        });
        Assert.Contains("invalid_token", refused);

        // Bouncer itself refuses it too, and a token signed with the new key is accepted by both.
        using (var me = await http.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", oldToken)))
            await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "unknown_kid");
        var newToken = await LoginAsync(http);
        Assert.NotEqual(oldKid, Kid(newToken));
        using (var accepted = await CallAsync(client, newToken))
            Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
    }

    [Fact]
    public async Task JwtBearer_HybridExchangeTokenForOtherAudience_Refused()
    {
        await using var bouncer = new BouncerHost(("urls", "http://127.0.0.1:0"), ("Bouncer:PublicOrigin", null));   // discovery names the bound Kestrel address
        bouncer.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        bouncer.StartServer();
        var authority = bouncer.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        bouncer.KestrelAddress = new Uri(authority);
        var session = await bouncer.LoginSessionAsync("alice");
        using var http = new HttpClient { BaseAddress = new Uri(authority) };
        using var exchange = await http.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/token", session.Cookie, new { audience = "orders-api" }));
        Assert.Equal(HttpStatusCode.OK, exchange.StatusCode);
        var token = (await exchange.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("access_token").GetString()!;

        await using var stock = await StartStockAppAsync(authority, null);
        using var refused = await CallAsync(stock.GetTestClient(), token);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("audience", refused.Headers.WwwAuthenticate.ToString(), StringComparison.OrdinalIgnoreCase);

        await using var orders = await StartStockAppAsync(authority, null, audience: "orders-api");
        using var accepted = await CallAsync(orders.GetTestClient(), token);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
    }

    private static async Task<WebApplication> StartStockAppAsync(string authority, IConfigurationManager<OpenIdConnectConfiguration>? configuration, string audience = "bouncer")
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
        {
            o.Authority = authority;
            o.RequireHttpsMetadata = false;
            o.TokenValidationParameters.ValidAudience = audience;
            if (configuration is not null) o.ConfigurationManager = configuration;
        });
        builder.Services.AddAuthorization();
        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGet("/orders", (HttpContext ctx) => ctx.User.FindFirst("sub")?.Value ?? ctx.User.FindFirst(System.Security.Claims.ClaimTypes.NameIdentifier)?.Value).RequireAuthorization();
        await app.StartAsync();
        return app;
    }

    private static async Task<string> LoginAsync(HttpClient http)
    {
        using var login = await http.PostAsJsonAsync("/auth/login", new { username = "alice", password = Passwords.Good, mode = "jwt" });
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        return (await TokenPair.ReadAsync(login)).AccessToken;
    }

    private static async Task<HttpResponseMessage> CallAsync(HttpClient client, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/orders");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await client.SendAsync(request);
    }

    private static string Kid(string token) =>
        System.Text.Json.JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(token.Split('.')[0])).RootElement.GetProperty("kid").GetString()!;

    private static async Task<string> EventuallyAsync(Func<Task<string?>> probe)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            if (await probe() is { } result) return result;
            Assert.True(DateTime.UtcNow < deadline, "the stock app still accepts the token signed with the removed key");
            await Task.Delay(250);
        }
    }

    private sealed class MemoryKeyStore : IKeyStore
    {
        public string? Value;
        public ValueTask<string?> LoadAsync(CancellationToken cancellationToken) => ValueTask.FromResult(Value);
        public ValueTask SaveAsync(string privateJwkSet, CancellationToken cancellationToken) { Value = privateJwkSet; return ValueTask.CompletedTask; }
    }
}
