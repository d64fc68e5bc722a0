using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Bouncer.Server.Tests;

/// <summary>
/// auth_time (OpenID Connect Core 1.0 2) in every access token the server mints: the instant the password was
/// last proved, kept across refreshes and taken from the session for the hybrid exchange.
/// </summary>
public sealed class AuthTimeTests
{
    private static long AuthTime(string token) => Jwt.Payload(token).GetProperty("auth_time").GetInt64();

    [Fact]
    public async Task JwtLogin_TokenCarriesLoginTime_RefreshKeepsIt()
    {
        var clock = new Bouncer.Tests.ManualClock();
        await using var host = new BouncerHost { Clock = clock };
        var loginAt = clock.GetUtcNow().ToUnixTimeSeconds();
        var pair = await host.LoginJwtAsync("alice");

        Assert.Equal(JsonValueKind.Number, Jwt.Payload(pair.AccessToken).GetProperty("auth_time").ValueKind);
        Assert.Equal(loginAt, AuthTime(pair.AccessToken));

        clock.Advance(TimeSpan.FromMinutes(11));
        using var refreshed = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = pair.RefreshToken });
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        var next = await TokenPair.ReadAsync(refreshed);
        clock.Advance(TimeSpan.FromMinutes(11));
        using var again = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = next.RefreshToken });
        var third = await TokenPair.ReadAsync(again);

        Assert.Equal(loginAt + 22 * 60, Jwt.Payload(third.AccessToken).GetProperty("iat").GetInt64());
        Assert.Equal(loginAt, AuthTime(next.AccessToken));
        Assert.Equal(loginAt, AuthTime(third.AccessToken));
        using var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", third.AccessToken));
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task HybridExchange_TokenCarriesTheSessionsAuthTime()
    {
        var clock = new Bouncer.Tests.ManualClock();
        await using var host = new BouncerHost { Clock = clock };
        var loginAt = clock.GetUtcNow().ToUnixTimeSeconds();
        var login = await host.LoginSessionAsync("alice");
        clock.Advance(TimeSpan.FromMinutes(3));

        using var response = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/token", login.Cookie, new { audience = "orders-api" }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var token = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString()!;
        Assert.Equal(loginAt, AuthTime(token));
        Assert.Equal(loginAt + 180, Jwt.Payload(token).GetProperty("iat").GetInt64());
        Assert.Equal(loginAt, host.Runtime.VerifierFor("orders-api").Verify(System.Text.Encoding.ASCII.GetBytes(token)).GetAccessClaims().AuthTimeUnixSeconds);
    }

    [Fact]
    public async Task PasswordChange_ReissuedTokensCarryTheChangeTime()
    {
        var clock = new Bouncer.Tests.ManualClock();
        await using var host = new BouncerHost { Clock = clock };
        var pair = await host.LoginJwtAsync("alice");
        clock.Advance(TimeSpan.FromMinutes(4));
        var changedAt = clock.GetUtcNow().ToUnixTimeSeconds();

        using var change = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/auth/password", pair.AccessToken,
            new { current_password = Passwords.Good, new_password = "a brand new passphrase" }));

        Assert.Equal(HttpStatusCode.OK, change.StatusCode);
        var next = await TokenPair.ReadAsync(change);
        Assert.Equal(changedAt, AuthTime(next.AccessToken));
        Assert.True(changedAt > AuthTime(pair.AccessToken));
    }
}
