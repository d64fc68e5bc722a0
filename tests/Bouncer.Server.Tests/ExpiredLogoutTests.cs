using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Bouncer.AspNetCore;
using Bouncer.Stores.Tests;

namespace Bouncer.Server.Tests;

/// <summary>
/// Logging out with an expired access token still ends the refresh family when the refresh token is presented (in the
/// body, or as the refresh cookie at <c>/auth/refresh/logout</c>, the path the cookie reaches): the family is stored,
/// so this holds on every store.
/// </summary>
public abstract class ExpiredLogoutTests
{
    /// <summary>The store settings; null: the memory store.</summary>
    protected abstract (string Kind, string Connection, string Prefix)? Store { get; }

    private BouncerHost Host(Bouncer.Tests.ManualClock clock) => Store is { } store
        ? new BouncerHost(("Bouncer:Store", store.Kind), ("Bouncer:Connection", store.Connection), ("Bouncer:StorePrefix", store.Prefix)) { Clock = clock }
        : new BouncerHost { Clock = clock };

    private static string Name() => "u" + Guid.NewGuid().ToString("N")[..12];

    [Fact]
    public async Task Logout_ExpiredAccessToken_RefreshTokenInBody_EndsTheFamily()
    {
        var clock = new Bouncer.Tests.ManualClock();
        await using var host = Host(clock);
        var pair = await host.LoginJwtAsync(Name());
        clock.Advance(TimeSpan.FromMinutes(15));
        using (var expired = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", pair.AccessToken)))
            await Problem.AssertAsync(expired, HttpStatusCode.Unauthorized, "token_expired");

        using (var logout = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/auth/logout", pair.AccessToken, new { refresh_token = pair.RefreshToken })))
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);

        using var refresh = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = pair.RefreshToken });
        await Problem.AssertAsync(refresh, HttpStatusCode.Unauthorized, "refresh_token_revoked");
    }

    [Fact]
    public async Task Logout_ExpiredAccessToken_RefreshCookie_EndsTheFamilyAndClearsTheCookie()
    {
        var clock = new Bouncer.Tests.ManualClock();
        await using var host = Host(clock);
        var name = Name();
        await host.RegisterAsync(name);
        using var login = await host.Client().PostAsJsonAsync("/auth/login", new { username = name, password = Passwords.Good, mode = "jwt", transport = "cookie" });
        var access = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString()!;
        var cookie = SetCookie.Find(login, BouncerDefaults.RefreshCookieName)!.Value;
        clock.Advance(TimeSpan.FromMinutes(15));

        // What a browser sends to a path under /auth/refresh: the bearer header by hand, the refresh cookie by itself.
        var request = BouncerHost.WithBearer(HttpMethod.Post, "/auth/refresh/logout", access);
        request.Headers.Add("Cookie", $"{BouncerDefaults.RefreshCookieName}={cookie}");
        request.Headers.Add("Origin", "https://localhost");
        using (var logout = await host.SendAsync(request))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
            Assert.Equal("", SetCookie.Find(logout, BouncerDefaults.RefreshCookieName)!.Value);
        }

        var again = new HttpRequestMessage(HttpMethod.Post, "/auth/refresh");
        again.Headers.Add("Cookie", $"{BouncerDefaults.RefreshCookieName}={cookie}");
        again.Headers.Add("Origin", "https://localhost");
        using var refresh = await host.SendAsync(again);
        await Problem.AssertAsync(refresh, HttpStatusCode.Unauthorized, "refresh_token_revoked");
    }

    [Fact]
    public async Task Logout_ExpiredAccessToken_NoRefreshToken_SaysWhy()
    {
        var clock = new Bouncer.Tests.ManualClock();
        await using var host = Host(clock);
        var pair = await host.LoginJwtAsync(Name());
        clock.Advance(TimeSpan.FromMinutes(15));

        using var logout = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/auth/logout", pair.AccessToken));

        await Problem.AssertAsync(logout, HttpStatusCode.Unauthorized, "token_expired");
    }
}

public sealed class MemoryExpiredLogoutTests : ExpiredLogoutTests
{
    protected override (string Kind, string Connection, string Prefix)? Store => null;
}

public sealed class SqliteExpiredLogoutTests : ExpiredLogoutTests, IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("bouncer-logout-").FullName;

    protected override (string Kind, string Connection, string Prefix)? Store => ("sqlite", Path.Combine(_folder, Guid.NewGuid().ToString("N") + ".db"), "");

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}

[Collection(RedisCollection.Name)]
public sealed class RedisExpiredLogoutTests(RedisServer redis) : ExpiredLogoutTests
{
    protected override (string Kind, string Connection, string Prefix)? Store => ("redis", redis.Configuration, $"lo{Guid.NewGuid():N}:");
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresExpiredLogoutTests(PostgresServer postgres) : ExpiredLogoutTests
{
    protected override (string Kind, string Connection, string Prefix)? Store => ("postgres", postgres.ConnectionString, $"lo{Guid.NewGuid():N}"[..30]);
}
