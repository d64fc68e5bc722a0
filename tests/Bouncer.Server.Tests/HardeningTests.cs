using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Bouncer.AspNetCore;

namespace Bouncer.Server.Tests;

/// <summary>Findings of the outside review that live in the HTTP surface, one test per finding.</summary>
public sealed class HardeningTests
{
    private static void AssertNoStore(HttpResponseMessage response, string what) =>
        Assert.True(response.Headers.CacheControl?.NoStore == true, $"{what}: Cache-Control no-store, got '{response.Headers.CacheControl}'");

    [Fact]
    public async Task AnswersCarryingTokensOrIdentity_AreNotStored()
    {
        // RFC 6749 5.1 (token responses), ASVS 14.3.2 (sensitive data not cached).
        await using var host = new BouncerHost();
        await host.RegisterAsync("alice");
        using (var login = await host.Client().PostAsJsonAsync("/auth/login", new { username = "alice", password = Passwords.Good, mode = "jwt" }))
        {
            AssertNoStore(login, "jwt login");
            var pair = await TokenPair.ReadAsync(login);
            using (var refresh = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = pair.RefreshToken }))
                AssertNoStore(refresh, "refresh");
            using (var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", pair.AccessToken)))
                AssertNoStore(me, "/api/me");
        }
        var session = await host.LoginSessionAsync("alice", register: false);
        using (var token = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/token", session.Cookie, new { audience = "bouncer" })))
            AssertNoStore(token, "/auth/token");
        using (var sessions = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/auth/sessions", session.Cookie)))
            AssertNoStore(sessions, "/auth/sessions");
        using (var loginSession = await host.Client().PostAsJsonAsync("/auth/login", new { username = "alice", password = Passwords.Good, mode = "session" }))
            AssertNoStore(loginSession, "session login");
    }

    [Fact]
    public async Task Logout_ClearsCookiesWithMaxAgeZero_AndSendsClearSiteData()
    {
        await using var host = new BouncerHost();
        var session = await host.LoginSessionAsync("alice");
        using var logout = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/logout", session.Cookie));
        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        Assert.Equal("\"cookies\"", Assert.Single(logout.Headers.GetValues("Clear-Site-Data")));
        var cleared = logout.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith(BouncerDefaults.SessionCookieName + "=", StringComparison.Ordinal));
        Assert.Contains("max-age=0", cleared, StringComparison.OrdinalIgnoreCase);

        var pair = await host.LoginJwtAsync("alice", register: false);
        using var all = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/auth/logout-all", pair.AccessToken));
        Assert.Equal("\"cookies\"", Assert.Single(all.Headers.GetValues("Clear-Site-Data")));
        var refresh = all.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith(BouncerDefaults.RefreshCookieName + "=", StringComparison.Ordinal));
        Assert.Contains("max-age=0", refresh, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Unauthorized_WithoutAnyCredential_CarriesAChallenge()
    {
        // RFC 9110 11.6.1 (a 401 carries WWW-Authenticate), RFC 6750 3 (no error code when no token was sent).
        await using var host = new BouncerHost();
        using var response = await host.Client().GetAsync("/api/me");
        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "credential_missing");
        Assert.Equal("Bearer realm=\"bouncer\"", response.Headers.WwwAuthenticate.ToString());
    }

    [Theory]
    [InlineData("/auth/login")]
    [InlineData("/auth/register")]
    public async Task CrossSiteLoginOrRegister_WithAnAuthorizationHeader_IsStillRefused(string path)
    {
        // A browser attaches cached Basic credentials to a cross-site form post: the header proves nothing.
        await using var host = new BouncerHost();
        await host.RegisterAsync("alice");
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(new { username = path.EndsWith("login") ? "alice" : "mallory", password = Passwords.Good, mode = "session" }) };
        request.Headers.TryAddWithoutValidation("Authorization", "Basic YWxpY2U6cGFzcw==");
        request.Headers.Add("Origin", "https://evil.test");
        request.Headers.Add("Sec-Fetch-Site", "cross-site");
        using var response = await host.SendAsync(request);
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "csrf_rejected");
        Assert.Null(SetCookie.Find(response, BouncerDefaults.SessionCookieName));
    }

    [Fact]
    public async Task Discovery_IgnoresTheHostHeader_AndAdvertisesNoTokenEndpoint()
    {
        await using var host = new BouncerHost(("Bouncer:PublicOrigin", "https://auth.example.com"));
        var request = new HttpRequestMessage(HttpMethod.Get, "/.well-known/openid-configuration");
        request.Headers.Host = "evil.test";
        using var response = await host.SendAsync(request);
        var config = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("https://auth.example.com/.well-known/jwks.json", config.GetProperty("jwks_uri").GetString());
        Assert.Equal("https://auth.example.com/auth/revocations", config.GetProperty("revocation_feed_endpoint").GetString());
        Assert.DoesNotContain("evil.test", config.GetRawText());
        Assert.False(config.TryGetProperty("token_endpoint", out _));
    }

    [Fact]
    public async Task Discovery_WithoutPublicOrigin_UsesAnHttpIssuer()
    {
        await using var host = new BouncerHost(("Bouncer:PublicOrigin", null), ("Bouncer:Issuer", "https://id.example.org"));
        var request = new HttpRequestMessage(HttpMethod.Get, "/.well-known/openid-configuration");
        request.Headers.Host = "evil.test";
        using var response = await host.SendAsync(request);
        var config = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("https://id.example.org/.well-known/jwks.json", config.GetProperty("jwks_uri").GetString());
    }

    [Fact]
    public async Task TwoSessionCookiesOfOneName_RefuseTheSessionCredential()
    {
        await using var host = new BouncerHost();
        var alice = await host.LoginSessionAsync("alice");
        var bob = await host.LoginSessionAsync("bob");
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/me");
        request.Headers.Add("Cookie", $"{BouncerDefaults.SessionCookieName}={alice.Cookie}; {BouncerDefaults.SessionCookieName}={bob.Cookie}");
        using var response = await host.SendAsync(request);
        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "duplicate_session_cookie");
    }

    [Fact]
    public async Task Registration_IsRateLimitedPerAddress()
    {
        await using var host = new BouncerHost(("Bouncer:RegistrationsPerMinute", "3"));
        for (var i = 0; i < 3; i++)
            using (var ok = await host.Client().PostAsJsonAsync("/auth/register", new { username = "user" + i, password = Passwords.Good }))
                Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
        using var limited = await host.Client().PostAsJsonAsync("/auth/register", new { username = "user9", password = Passwords.Good });
        await Problem.AssertAsync(limited, HttpStatusCode.TooManyRequests, "rate_limited");
        Assert.Null(await host.Runtime.Stores.Users.GetAsync("user9", default));
    }

    [Fact]
    public async Task Refresh_IsRateLimitedPerAddress_GuessesStopAt429()
    {
        // Issue 14 finding 4: 300 random refresh tokens a minute from one address got 300 x 401, never 429.
        await using var host = new BouncerHost(("Bouncer:RefreshesPerMinute", "5"));
        for (var i = 0; i < 5; i++)
        {
            using var guess = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_') });
            await Problem.AssertAsync(guess, HttpStatusCode.Unauthorized, "refresh_token_invalid");
        }
        using var limited = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = "x" });
        Assert.Equal("60", limited.Headers.RetryAfter?.ToString());
        await Problem.AssertAsync(limited, HttpStatusCode.TooManyRequests, "rate_limited");
    }

    [Fact]
    public async Task UniformRegistration_AnswersTakenAndNewNamesAlike()
    {
        await using var host = new BouncerHost(("Bouncer:UniformRegistration", "true"));
        using var created = await host.Client().PostAsJsonAsync("/auth/register", new { username = "alice", password = Passwords.Good });
        using var taken = await host.Client().PostAsJsonAsync("/auth/register", new { username = "alice", password = "another password here" });
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        Assert.Equal(created.StatusCode, taken.StatusCode);
        Assert.Equal(await created.Content.ReadAsStringAsync(), await taken.Content.ReadAsStringAsync());
        await host.LoginSessionAsync("alice", register: false);   // the first registration's password, not the second
    }
}
