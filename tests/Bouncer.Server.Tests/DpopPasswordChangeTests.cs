using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Bouncer.Tests;

namespace Bouncer.Server.Tests;

/// <summary>
/// A DPoP-bound client that changes its password gets a new pair bound to the same key (RFC 9449 5): a password change
/// must not turn a stolen-token-proof client into a bearer one.
/// </summary>
public sealed class DpopPasswordChangeTests : IDisposable
{
    private const string Origin = "https://localhost";
    private readonly DpopClient _key = DpopClient.EdDsa();

    public void Dispose() => _key.Dispose();

    private static HttpRequestMessage Request(HttpMethod method, string path, string? authorization, string? proof, object? json = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
        if (proof is not null) request.Headers.TryAddWithoutValidation("DPoP", proof);
        if (json is not null) request.Content = JsonContent.Create(json);
        return request;
    }

    [Fact]
    public async Task PasswordChange_ByABoundCaller_ReissuesAPairBoundToTheSameKey()
    {
        await using var host = new BouncerHost();
        await host.RegisterAsync("alice");
        using var login = await host.SendAsync(Request(HttpMethod.Post, "/auth/login", null, _key.Proof("POST", Origin + "/auth/login"),
            new { username = "alice", password = Passwords.Good, mode = "jwt" }));
        var token = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString()!;

        using var change = await host.SendAsync(Request(HttpMethod.Post, "/auth/password", "DPoP " + token, _key.Proof("POST", Origin + "/auth/password", token),
            new { current_password = Passwords.Good, new_password = "a brand new passphrase" }));

        Assert.Equal(HttpStatusCode.OK, change.StatusCode);
        var pair = await change.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("DPoP", pair.GetProperty("token_type").GetString());
        var fresh = pair.GetProperty("access_token").GetString()!;
        Assert.Equal(_key.Thumbprint, Jwt.Payload(fresh).GetProperty("cnf").GetProperty("jkt").GetString());
        // The new family is bound too: its refresh needs the key's proof (a token endpoint's error: 400, RFC 9449 5).
        var refreshToken = pair.GetProperty("refresh_token").GetString()!;
        using (var without = await host.SendAsync(Request(HttpMethod.Post, "/auth/refresh", null, null, new { refresh_token = refreshToken })))
        {
            Assert.Equal(HttpStatusCode.BadRequest, without.StatusCode);
            Assert.Equal("dpop_proof_missing", (await without.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reason").GetString());
        }
        using var with = await host.SendAsync(Request(HttpMethod.Post, "/auth/refresh", null, _key.Proof("POST", Origin + "/auth/refresh"), new { refresh_token = refreshToken }));
        Assert.Equal(HttpStatusCode.OK, with.StatusCode);
        Assert.Equal("DPoP", (await with.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token_type").GetString());
    }

    [Fact]
    public async Task PasswordChange_ByABearerCaller_StaysBearer()
    {
        await using var host = new BouncerHost();
        var pair = await host.LoginJwtAsync("bob");

        using var change = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/auth/password", pair.AccessToken,
            new { current_password = Passwords.Good, new_password = "a brand new passphrase" }));

        Assert.Equal(HttpStatusCode.OK, change.StatusCode);
        var fresh = await change.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Bearer", fresh.GetProperty("token_type").GetString());
        Assert.False(Jwt.Payload(fresh.GetProperty("access_token").GetString()!).TryGetProperty("cnf", out _));
    }
}
