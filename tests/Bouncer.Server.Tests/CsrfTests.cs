using System.Net;
using System.Net.Http.Json;
using Bouncer.AspNetCore;

namespace Bouncer.Server.Tests;

/// <summary>The CSRF defence of cookie-authenticated unsafe requests: fetch metadata, Origin, optional token.</summary>
public sealed class CsrfTests
{
    [Fact]
    public async Task Logout_CookieWithForeignOrigin_Returns403CsrfRejectedAndSessionLives()
    {
        await using var host = new BouncerHost();
        var login = await host.LoginSessionAsync("alice");
        var request = BouncerHost.WithSession(HttpMethod.Post, "/auth/logout", login.Cookie);
        request.Headers.Add("Origin", "https://evil.example");
        using var response = await host.SendAsync(request);
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "csrf_rejected");
        using var me = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", login.Cookie));
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task Logout_CookieWithOpaqueNullOrigin_Returns403()
    {
        // Sandboxed iframes and some redirects send "Origin: null": not this site.
        await using var host = new BouncerHost();
        var login = await host.LoginSessionAsync("alice");
        var request = BouncerHost.WithSession(HttpMethod.Post, "/auth/logout", login.Cookie);
        request.Headers.TryAddWithoutValidation("Origin", "null");
        using var response = await host.SendAsync(request);
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "csrf_rejected");
    }

    [Fact]
    public async Task Logout_CookieWithSecFetchSiteCrossSite_Returns403()
    {
        await using var host = new BouncerHost();
        var login = await host.LoginSessionAsync("alice");
        var request = BouncerHost.WithSession(HttpMethod.Post, "/auth/logout", login.Cookie);
        request.Headers.Add("Sec-Fetch-Site", "cross-site");
        using var response = await host.SendAsync(request);
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "csrf_rejected");
    }

    [Fact]
    public async Task Token_CookieWithSameSiteFetchMetadata_Returns403()
    {
        // same-site is not same-origin: a sibling subdomain must not mint tokens with the cookie.
        await using var host = new BouncerHost();
        var login = await host.LoginSessionAsync("alice");
        var request = BouncerHost.WithSession(HttpMethod.Post, "/auth/token", login.Cookie, new { audience = "orders-api" });
        request.Headers.Add("Sec-Fetch-Site", "same-site");
        using var response = await host.SendAsync(request);
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "csrf_rejected");
    }

    [Theory]
    [InlineData("Origin", "https://localhost")]
    [InlineData("Sec-Fetch-Site", "same-origin")]
    public async Task Logout_CookieSameOrigin_Returns204(string header, string value)
    {
        await using var host = new BouncerHost();
        var login = await host.LoginSessionAsync("alice");
        var request = BouncerHost.WithSession(HttpMethod.Post, "/auth/logout", login.Cookie);
        request.Headers.Add(header, value);
        using var response = await host.SendAsync(request);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Fact]
    public async Task Logout_CookieWithTrustedOrigin_Returns204()
    {
        await using var host = new BouncerHost(("Bouncer:TrustedOrigins:0", "https://app.example"));
        var login = await host.LoginSessionAsync("alice");
        var request = BouncerHost.WithSession(HttpMethod.Post, "/auth/logout", login.Cookie);
        request.Headers.Add("Origin", "https://app.example");
        using var response = await host.SendAsync(request);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Fact]
    public async Task Login_ForeignOrigin_Returns403CsrfRejected()
    {
        // Login CSRF: a foreign page must not log the browser into the attacker's account.
        await using var host = new BouncerHost();
        await host.RegisterAsync("alice");
        var request = new HttpRequestMessage(HttpMethod.Post, "/auth/login") { Content = JsonContent.Create(new { username = "alice", password = Passwords.Good, mode = "session" }) };
        request.Headers.Add("Origin", "https://evil.example");
        using var response = await host.SendAsync(request);
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "csrf_rejected");
        Assert.Null(SetCookie.Find(response, BouncerDefaults.SessionCookieName));
    }

    [Fact]
    public async Task Logout_BearerWithForeignOrigin_IsNotACsrfCase()
    {
        // A bearer token is attached by script, never by the browser on its own: no CSRF exposure.
        await using var host = new BouncerHost();
        var pair = await host.LoginJwtAsync("alice");
        var request = BouncerHost.WithBearer(HttpMethod.Post, "/auth/logout", pair.AccessToken);
        request.Headers.Add("Origin", "https://evil.example");
        using var response = await host.SendAsync(request);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Fact]
    public async Task Logout_AntiforgeryRequiredAndTokenMissing_Returns403CsrfTokenInvalid()
    {
        await using var host = new BouncerHost(("Bouncer:RequireAntiforgeryToken", "true"));
        var login = await host.LoginSessionAsync("alice");
        Assert.False(string.IsNullOrEmpty(login.CsrfToken));
        using var response = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/logout", login.Cookie));
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "csrf_token_invalid");
        using var me = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", login.Cookie));
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task Logout_AntiforgeryRequiredAndTokenOfAnotherSession_Returns403()
    {
        await using var host = new BouncerHost(("Bouncer:RequireAntiforgeryToken", "true"));
        var alice = await host.LoginSessionAsync("alice");
        var bob = await host.LoginSessionAsync("bob");
        var request = BouncerHost.WithSession(HttpMethod.Post, "/auth/logout", alice.Cookie);
        request.Headers.Add("X-CSRF-Token", bob.CsrfToken);
        using var response = await host.SendAsync(request);
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "csrf_token_invalid");
    }

    [Fact]
    public async Task Logout_AntiforgeryRequiredAndTokenFromLogin_Returns204()
    {
        await using var host = new BouncerHost(("Bouncer:RequireAntiforgeryToken", "true"));
        var login = await host.LoginSessionAsync("alice");
        var request = BouncerHost.WithSession(HttpMethod.Post, "/auth/logout", login.Cookie);
        request.Headers.Add("X-CSRF-Token", login.CsrfToken);
        using var response = await host.SendAsync(request);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Fact]
    public async Task Login_AntiforgeryRequiredAndStaleSessionCookie_LogsInWithoutToken()
    {
        // The browser still holds the cookie of a session ended elsewhere (logout-all on another device)
        // and a reloaded page has no token: the user must still be able to log in. The cookie is HttpOnly,
        // so script cannot clear it; refusing the login would lock the user out until the browser closes.
        await using var host = new BouncerHost(("Bouncer:RequireAntiforgeryToken", "true"));
        var stale = await host.LoginSessionAsync("alice");
        var other = await host.LoginSessionAsync("alice", register: false);
        var logoutAll = BouncerHost.WithSession(HttpMethod.Post, "/auth/logout-all", other.Cookie);
        logoutAll.Headers.Add("X-CSRF-Token", other.CsrfToken);
        using (var response = await host.SendAsync(logoutAll))
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);

        var login = BouncerHost.WithSession(HttpMethod.Post, "/auth/login", stale.Cookie, new { username = "alice", password = Passwords.Good, mode = "session" });
        login.Headers.Add("Origin", "https://localhost");
        using var relogin = await host.SendAsync(login);
        Assert.Equal(HttpStatusCode.NoContent, relogin.StatusCode);
        Assert.NotNull(SetCookie.Find(relogin, BouncerDefaults.SessionCookieName));
        Assert.True(relogin.Headers.Contains("X-CSRF-Token"));
    }

    [Fact]
    public async Task Login_AntiforgeryRequiredAndStaleCookieFromForeignOrigin_StillRefused()
    {
        await using var host = new BouncerHost(("Bouncer:RequireAntiforgeryToken", "true"));
        var stale = await host.LoginSessionAsync("alice");
        var login = BouncerHost.WithSession(HttpMethod.Post, "/auth/login", stale.Cookie, new { username = "alice", password = Passwords.Good, mode = "session" });
        login.Headers.Add("Origin", "https://evil.example");
        using var response = await host.SendAsync(login);
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "csrf_rejected");
    }

    [Fact]
    public async Task Login_AntiforgeryNotRequired_SendsNoToken()
    {
        await using var host = new BouncerHost();
        var login = await host.LoginSessionAsync("alice");
        Assert.Null(login.CsrfToken);
    }
}
