using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Bouncer.AspNetCore;

namespace Bouncer.Server.Tests;

/// <summary>The /auth endpoints, /api/me and /admin: success paths, failure paths and what each leaves in the stores.</summary>
public sealed class AuthEndpointsTests
{
    // ---- register ----

    [Fact]
    public async Task Register_NewUser_Returns201AndStoresUser()
    {
        await using var host = new BouncerHost();
        using var response = await host.Client().PostAsJsonAsync("/auth/register", new { username = "alice", password = Passwords.Good });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.NotNull(await host.Runtime.Stores.Users.GetAsync("alice", default));
    }

    [Fact]
    public async Task Register_TakenUsername_Returns409()
    {
        await using var host = new BouncerHost();
        await host.RegisterAsync("alice");
        using var response = await host.Client().PostAsJsonAsync("/auth/register", new { username = "alice", password = Passwords.Good });
        await Problem.AssertAsync(response, HttpStatusCode.Conflict, "username_taken");
    }

    [Theory]
    [InlineData("bob", "short")]
    [InlineData("", "correct horse battery")]
    [InlineData("with space", "correct horse battery")]
    public async Task Register_InvalidCredentials_Returns400(string username, string password)
    {
        await using var host = new BouncerHost();
        using var response = await host.Client().PostAsJsonAsync("/auth/register", new { username, password });
        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Register_RegistrationDisabled_Returns403()
    {
        await using var host = new BouncerHost(("Bouncer:AllowRegistration", "false"));
        using var response = await host.Client().PostAsJsonAsync("/auth/register", new { username = "alice", password = Passwords.Good });
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "registration_disabled");
        Assert.Null(await host.Runtime.Stores.Users.GetAsync("alice", default));
    }

    // ---- session login ----

    [Fact]
    public async Task LoginSession_ValidCredentials_SetsHostPrefixedCookieWithStrictFlags()
    {
        await using var host = new BouncerHost();
        await host.RegisterAsync("alice");
        using var response = await host.Client().PostAsJsonAsync("/auth/login", new { username = "alice", password = Passwords.Good, mode = "session" });
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var cookie = SetCookie.Find(response, "__Host-bouncer");
        Assert.NotNull(cookie);
        Assert.Equal(43, cookie.Value.Length);
        Assert.True(cookie.Has("HttpOnly"));
        Assert.True(cookie.Has("Secure"));
        Assert.Equal("lax", cookie["SameSite"]?.ToLowerInvariant());
        Assert.Equal("/", cookie["Path"]);
        Assert.False(cookie.Has("Domain"));
        Assert.False(cookie.Has("Expires"));
    }

    [Fact]
    public async Task LoginSession_CookiePresentedBeforeLogin_OldSessionIsDead()
    {
        await using var host = new BouncerHost();
        var before = await host.LoginSessionAsync("alice");
        using var request = BouncerHost.WithSession(HttpMethod.Post, "/auth/login", before.Cookie, new { username = "alice", password = Passwords.Good, mode = "session" });
        using var response = await host.Client().SendAsync(request);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var after = SetCookie.Find(response, BouncerDefaults.SessionCookieName)!.Value;
        Assert.NotEqual(before.Cookie, after);

        using var old = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", before.Cookie));
        await Problem.AssertAsync(old, HttpStatusCode.Unauthorized, "session_invalid");
        using var fresh = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", after));
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
    }

    [Fact]
    public async Task ApiMe_SessionCookie_ReportsSubAndViaSession()
    {
        await using var host = new BouncerHost();
        var login = await host.LoginSessionAsync("alice");
        using var response = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", login.Cookie));
        var me = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("alice", me.GetProperty("sub").GetString());
        Assert.Equal("session", me.GetProperty("via").GetString());
    }

    [Fact]
    public async Task ApiMe_NoCredential_Returns401CredentialMissing()
    {
        await using var host = new BouncerHost();
        using var response = await host.Client().GetAsync("/api/me");
        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "credential_missing");
    }

    [Fact]
    public async Task Login_WrongPassword_Returns401InvalidCredentials()
    {
        await using var host = new BouncerHost();
        await host.RegisterAsync("alice");
        using var response = await host.Client().PostAsJsonAsync("/auth/login", new { username = "alice", password = "wrong password!", mode = "session" });
        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "invalid_credentials");
        Assert.Null(SetCookie.Find(response, BouncerDefaults.SessionCookieName));
    }

    [Fact]
    public async Task Login_UnknownUser_Returns401InvalidCredentials()
    {
        await using var host = new BouncerHost();
        using var response = await host.Client().PostAsJsonAsync("/auth/login", new { username = "nobody", password = Passwords.Good, mode = "jwt" });
        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "invalid_credentials");
    }

    [Fact]
    public async Task Login_UnknownMode_Returns400()
    {
        await using var host = new BouncerHost();
        await host.RegisterAsync("alice");
        using var response = await host.Client().PostAsJsonAsync("/auth/login", new { username = "alice", password = Passwords.Good, mode = "kerberos" });
        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Login_SessionModeInJwtDeployment_Returns400ModeNotEnabled()
    {
        await using var host = new BouncerHost(("Bouncer:Mode", "Jwt"));
        await host.RegisterAsync("alice");
        using var response = await host.Client().PostAsJsonAsync("/auth/login", new { username = "alice", password = Passwords.Good, mode = "session" });
        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "mode_not_enabled");
    }

    // ---- jwt login, refresh ----

    [Fact]
    public async Task LoginJwt_ValidCredentials_ReturnsPairUsableAtApiMe()
    {
        await using var host = new BouncerHost();
        var pair = await host.LoginJwtAsync("alice");
        Assert.Equal("Bearer", pair.TokenType);
        Assert.True(pair.ExpiresIn > 0);
        Assert.NotNull(pair.RefreshToken);
        using var response = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", pair.AccessToken));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var me = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("alice", me.GetProperty("sub").GetString());
        Assert.Equal("jwt", me.GetProperty("via").GetString());
    }

    [Fact]
    public async Task LoginJwt_CookieTransport_RefreshTokenOnlyInStrictPathScopedCookie()
    {
        await using var host = new BouncerHost();
        await host.RegisterAsync("alice");
        using var response = await host.Client().PostAsJsonAsync("/auth/login", new { username = "alice", password = Passwords.Good, mode = "jwt", transport = "cookie" });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(body.TryGetProperty("refresh_token", out _));
        Assert.True(body.TryGetProperty("access_token", out _));
        var cookie = SetCookie.Find(response, BouncerDefaults.RefreshCookieName);
        Assert.NotNull(cookie);
        Assert.True(cookie.Has("HttpOnly"));
        Assert.True(cookie.Has("Secure"));
        Assert.Equal("strict", cookie["SameSite"]?.ToLowerInvariant());
        Assert.Equal("/auth/refresh", cookie["Path"]);
        Assert.False(cookie.Has("Domain"));

        // The cookie alone refreshes, and the rotated token comes back in the same kind of cookie.
        var refresh = new HttpRequestMessage(HttpMethod.Post, "/auth/refresh");
        refresh.Headers.Add("Cookie", $"{BouncerDefaults.RefreshCookieName}={cookie.Value}");
        using var refreshed = await host.SendAsync(refresh);
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        var next = SetCookie.Find(refreshed, BouncerDefaults.RefreshCookieName);
        Assert.NotNull(next);
        Assert.NotEqual(cookie.Value, next.Value);
        Assert.Equal("/auth/refresh", next["Path"]);
        Assert.True(next.Has("HttpOnly"));
        Assert.Equal("strict", next["SameSite"]?.ToLowerInvariant());
        var nextBody = await refreshed.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(nextBody.TryGetProperty("refresh_token", out _));
    }

    [Theory]
    [InlineData("/auth/logout")]
    [InlineData("/auth/logout-all")]
    public async Task Logout_CookieTransport_ClearsTheRefreshCookie_ThoughTheRequestCannotCarryIt(string path)
    {
        await using var host = new BouncerHost();
        await host.RegisterAsync("alice");
        using var login = await host.Client().PostAsJsonAsync("/auth/login", new { username = "alice", password = Passwords.Good, mode = "jwt", transport = "cookie" });
        var access = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString()!;
        Assert.NotNull(SetCookie.Find(login, BouncerDefaults.RefreshCookieName));

        // The cookie's Path is /auth/refresh, so a browser never sends it here; the answer must still expire it.
        using var response = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, path, access));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var cleared = SetCookie.Find(response, BouncerDefaults.RefreshCookieName);
        Assert.NotNull(cleared);
        Assert.Equal("", cleared.Value);
        Assert.Equal("/auth/refresh", cleared["Path"]);
        Assert.True(DateTimeOffset.Parse(cleared["expires"]!) < DateTimeOffset.UtcNow);
    }

    [Fact]
    public async Task Refresh_ValidToken_ReturnsRotatedPair()
    {
        await using var host = new BouncerHost();
        var first = await host.LoginJwtAsync("alice");
        using var response = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = first.RefreshToken });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var second = await TokenPair.ReadAsync(response);
        Assert.NotEqual(first.RefreshToken, second.RefreshToken);
        Assert.NotEqual(Jwt.Payload(first.AccessToken).GetProperty("jti").GetString(), Jwt.Payload(second.AccessToken).GetProperty("jti").GetString());
        using var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", second.AccessToken));
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task Refresh_ReplayWithinGraceWindow_ReturnsSamePair()
    {
        await using var host = new BouncerHost();
        var first = await host.LoginJwtAsync("alice");
        using var a = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = first.RefreshToken });
        using var b = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = first.RefreshToken });
        Assert.Equal(HttpStatusCode.OK, a.StatusCode);
        Assert.Equal(HttpStatusCode.OK, b.StatusCode);
        var pa = await TokenPair.ReadAsync(a);
        var pb = await TokenPair.ReadAsync(b);
        Assert.Equal(pa.RefreshToken, pb.RefreshToken);
        Assert.Equal(Jwt.Payload(pa.AccessToken).GetProperty("jti").GetString(), Jwt.Payload(pb.AccessToken).GetProperty("jti").GetString());
    }

    [Fact]
    public async Task Refresh_ReuseAfterGraceWindow_Returns401ReusedAndRevokesFamilyAccessTokens()
    {
        await using var host = new BouncerHost(("Bouncer:Refresh:GraceWindow", "00:00:00"));
        var first = await host.LoginJwtAsync("alice");
        using var rotated = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = first.RefreshToken });
        var second = await TokenPair.ReadAsync(rotated);
        await Task.Delay(20); // past the zero grace window at millisecond resolution

        using var reuse = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = first.RefreshToken });
        await Problem.AssertAsync(reuse, HttpStatusCode.Unauthorized, "refresh_token_reused");

        foreach (var access in new[] { first.AccessToken, second.AccessToken })
        {
            using var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", access));
            await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "token_revoked");
            Assert.Contains("error=\"invalid_token\"", Problem.BearerError(me));
            Assert.Contains("error_description=\"token_revoked\"", Problem.BearerError(me));
        }
        // The successor is dead too: the whole family is revoked.
        using var successor = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = second.RefreshToken });
        await Problem.AssertAsync(successor, HttpStatusCode.Unauthorized, "refresh_token_revoked");
    }

    [Fact]
    public async Task Refresh_UnknownToken_Returns401Invalid()
    {
        await using var host = new BouncerHost();
        using var response = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = new string('A', 43) });
        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "refresh_token_invalid");
    }

    [Fact]
    public async Task Refresh_NoToken_Returns401Invalid()
    {
        await using var host = new BouncerHost();
        using var response = await host.Client().PostAsync("/auth/refresh", null);
        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "refresh_token_invalid");
    }

    // ---- logout ----

    [Fact]
    public async Task Logout_Session_KillsSessionAndClearsCookie()
    {
        await using var host = new BouncerHost();
        var login = await host.LoginSessionAsync("alice");
        using var response = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/logout", login.Cookie));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var cleared = SetCookie.Find(response, BouncerDefaults.SessionCookieName);
        Assert.NotNull(cleared);
        Assert.Equal("", cleared.Value);
        using var me = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", login.Cookie));
        await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "session_invalid");
        Assert.Empty(await host.Runtime.Sessions.ListUserAsync("alice", default));
    }

    [Fact]
    public async Task Logout_Jwt_KillsAccessAndRefreshToken()
    {
        await using var host = new BouncerHost();
        var pair = await host.LoginJwtAsync("alice");
        using var response = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/auth/logout", pair.AccessToken));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        using var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", pair.AccessToken));
        await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "token_revoked");
        using var refresh = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = pair.RefreshToken });
        await Problem.AssertAsync(refresh, HttpStatusCode.Unauthorized, "refresh_token_revoked");
    }

    [Fact]
    public async Task Logout_NoCredential_Returns401()
    {
        await using var host = new BouncerHost();
        using var response = await host.Client().PostAsync("/auth/logout", null);
        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "credential_missing");
    }

    [Fact]
    public async Task LogoutAll_SessionsAndTokens_AllDieButFreshLoginWorks()
    {
        await using var host = new BouncerHost();
        var s1 = await host.LoginSessionAsync("alice");
        var s2 = await host.LoginSessionAsync("alice", register: false);
        var t1 = await host.LoginJwtAsync("alice", register: false);
        var other = await host.LoginJwtAsync("bob");

        using var response = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/logout-all", s1.Cookie));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);

        foreach (var cookie in new[] { s1.Cookie, s2.Cookie })
        {
            using var me = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", cookie));
            await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "session_invalid");
        }
        using (var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", t1.AccessToken)))
            await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "token_revoked");
        using (var refresh = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = t1.RefreshToken }))
            await Problem.AssertAsync(refresh, HttpStatusCode.Unauthorized, "refresh_token_revoked");
        Assert.Empty(await host.Runtime.Sessions.ListUserAsync("alice", default));

        // Another user is untouched, and alice can log in again at once in both modes.
        using (var bob = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", other.AccessToken)))
            Assert.Equal(HttpStatusCode.OK, bob.StatusCode);
        var freshToken = await host.LoginJwtAsync("alice", register: false);
        using (var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", freshToken.AccessToken)))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        var freshSession = await host.LoginSessionAsync("alice", register: false);
        using (var me = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", freshSession.Cookie)))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task LogoutAll_Bearer_KillsSessionsToo()
    {
        await using var host = new BouncerHost();
        var session = await host.LoginSessionAsync("alice");
        var token = await host.LoginJwtAsync("alice", register: false);
        using var response = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/auth/logout-all", token.AccessToken));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        using var me = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", session.Cookie));
        await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "session_invalid");
    }

    // ---- sessions ----

    [Fact]
    public async Task Sessions_TwoLogins_ListsBothWithCurrentMarked()
    {
        await using var host = new BouncerHost();
        var mine = await host.LoginSessionAsync("alice");
        await host.LoginSessionAsync("alice", register: false);
        using var response = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/auth/sessions", mine.Cookie));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var list = (await response.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().ToList();
        Assert.Equal(2, list.Count);
        Assert.Single(list, s => s.GetProperty("current").GetBoolean());
        // The handle is not the cookie value: a list never leaks a live id.
        Assert.DoesNotContain(list, s => s.GetProperty("id").GetString() == mine.Cookie);
    }

    [Fact]
    public async Task SessionsDelete_OwnOtherSession_Returns204AndKillsIt()
    {
        await using var host = new BouncerHost();
        var mine = await host.LoginSessionAsync("alice");
        var other = await host.LoginSessionAsync("alice", register: false);
        var id = await OtherSessionIdAsync(host, mine.Cookie);
        using var response = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Delete, $"/auth/sessions/{id}", mine.Cookie));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        using var me = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", other.Cookie));
        await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "session_invalid");
        using var still = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", mine.Cookie));
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);
    }

    [Fact]
    public async Task SessionsDelete_AnotherUsersSession_Returns404AndLeavesIt()
    {
        await using var host = new BouncerHost();
        var alice = await host.LoginSessionAsync("alice");
        var bob = await host.LoginSessionAsync("bob");
        using var list = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/auth/sessions", alice.Cookie));
        var aliceId = (await list.Content.ReadFromJsonAsync<JsonElement>())[0].GetProperty("id").GetString();

        using var response = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Delete, $"/auth/sessions/{aliceId}", bob.Cookie));
        await Problem.AssertAsync(response, HttpStatusCode.NotFound, "session_not_found");
        using var me = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", alice.Cookie));
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task SessionsDelete_GarbageId_Returns404()
    {
        await using var host = new BouncerHost();
        var alice = await host.LoginSessionAsync("alice");
        using var response = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Delete, "/auth/sessions/%E2%98%83not-a-handle", alice.Cookie));
        await Problem.AssertAsync(response, HttpStatusCode.NotFound, "session_not_found");
    }

    [Fact]
    public async Task Sessions_NoCredential_Returns401()
    {
        await using var host = new BouncerHost();
        using var response = await host.Client().GetAsync("/auth/sessions");
        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "credential_missing");
    }

    private static async Task<string> OtherSessionIdAsync(BouncerHost host, string cookie)
    {
        using var list = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/auth/sessions", cookie));
        return (await list.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray()
            .Single(s => !s.GetProperty("current").GetBoolean()).GetProperty("id").GetString()!;
    }

    // ---- hybrid exchange ----

    [Fact]
    public async Task Token_SessionCaller_MintsTokenForRequestedAudience()
    {
        await using var host = new BouncerHost();
        var login = await host.LoginSessionAsync("alice");
        using var response = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/token", login.Cookie, new { audience = "orders-api" }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var token = body.GetProperty("access_token").GetString()!;
        Assert.Equal("Bearer", body.GetProperty("token_type").GetString());
        Assert.True(body.GetProperty("expires_in").GetInt32() is > 0 and <= 900);
        var claims = Jwt.Payload(token);
        Assert.Equal("orders-api", claims.GetProperty("aud").ValueKind == JsonValueKind.Array ? claims.GetProperty("aud")[0].GetString() : claims.GetProperty("aud").GetString());
        Assert.Equal("alice", claims.GetProperty("sub").GetString());
        Assert.True(host.Runtime.VerifierFor("orders-api").Verify(System.Text.Encoding.ASCII.GetBytes(token)).IsValid);

        // Minted for another audience, it is no good at this deployment's own API.
        using var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", token));
        await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "bad_audience");
    }

    [Fact]
    public async Task Token_BearerCaller_Returns403SessionRequired()
    {
        await using var host = new BouncerHost();
        var pair = await host.LoginJwtAsync("alice");
        using var response = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/auth/token", pair.AccessToken, new { audience = "orders-api" }));
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "session_required");
    }

    [Fact]
    public async Task Token_DisallowedAudience_Returns403()
    {
        await using var host = new BouncerHost(("Bouncer:DownstreamAudiences:0", "orders-api"));
        var login = await host.LoginSessionAsync("alice");
        using var refused = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/token", login.Cookie, new { audience = "payroll-api" }));
        await Problem.AssertAsync(refused, HttpStatusCode.Forbidden, "audience_not_allowed");
        using var allowed = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/token", login.Cookie, new { audience = "orders-api" }));
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }

    [Fact]
    public async Task Token_MissingAudience_Returns400()
    {
        await using var host = new BouncerHost();
        var login = await host.LoginSessionAsync("alice");
        using var response = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/token", login.Cookie, new { }));
        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Token_NoCredential_Returns401()
    {
        await using var host = new BouncerHost();
        using var response = await host.Client().PostAsJsonAsync("/auth/token", new { audience = "orders-api" });
        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "credential_missing");
    }

    // ---- admin ----

    [Fact]
    public async Task AdminRevoke_NonAdmin_Returns403()
    {
        await using var host = new BouncerHost(("Bouncer:BootstrapAdmin", "root"));
        var login = await host.LoginSessionAsync("alice");
        var victim = await host.LoginJwtAsync("bob");
        using var response = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/admin/users/bob/revoke", login.Cookie));
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "forbidden");
        using var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", victim.AccessToken));
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task AdminRevoke_NonAdminBearer_Returns403WithInsufficientScope()
    {
        await using var host = new BouncerHost(("Bouncer:BootstrapAdmin", "root"));
        var pair = await host.LoginJwtAsync("alice");
        using var response = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/admin/users/bob/revoke", pair.AccessToken));
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "forbidden");
        Assert.Contains("insufficient_scope", Problem.BearerError(response));
    }

    [Fact]
    public async Task AdminRevoke_Anonymous_Returns401()
    {
        await using var host = new BouncerHost(("Bouncer:BootstrapAdmin", "root"));
        using var response = await host.Client().PostAsync("/admin/users/bob/revoke", null);
        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "credential_missing");
    }

    [Theory]
    [InlineData("session")]
    [InlineData("jwt")]
    public async Task AdminRevoke_Admin_KillsTargetsSessionAndToken(string adminVia)
    {
        await using var host = new BouncerHost(("Bouncer:BootstrapAdmin", "root"));
        var victimSession = await host.LoginSessionAsync("bob");
        var victimToken = await host.LoginJwtAsync("bob", register: false);
        var bystander = await host.LoginSessionAsync("carol");

        using var request = adminVia == "session"
            ? BouncerHost.WithSession(HttpMethod.Post, "/admin/users/bob/revoke", (await host.LoginSessionAsync("root")).Cookie)
            : BouncerHost.WithBearer(HttpMethod.Post, "/admin/users/bob/revoke", (await host.LoginJwtAsync("root")).AccessToken);
        using var response = await host.Client().SendAsync(request);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);

        using (var me = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", victimSession.Cookie)))
            await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "session_invalid");
        using (var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", victimToken.AccessToken)))
            await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "token_revoked");
        using (var refresh = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = victimToken.RefreshToken }))
            await Problem.AssertAsync(refresh, HttpStatusCode.Unauthorized, "refresh_token_revoked");
        using (var me = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", bystander.Cookie)))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task Register_BootstrapAdminName_GetsAdminRole()
    {
        await using var host = new BouncerHost(("Bouncer:BootstrapAdmin", "root"));
        var pair = await host.LoginJwtAsync("root");
        using var response = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", pair.AccessToken));
        var me = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("admin", me.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
    }

    // ---- health, metrics ----

    [Fact]
    public async Task Healthz_Started_Returns200Ok()
    {
        await using var host = new BouncerHost();
        using var response = await host.Client().GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("ok", body.GetProperty("status").GetString());
        Assert.Equal("hybrid", body.GetProperty("mode").GetString());
    }

    [Fact]
    public async Task Metrics_AfterLogins_ServesPrometheusCounters()
    {
        await using var host = new BouncerHost();
        await host.LoginSessionAsync("alice");
        using (await host.Client().PostAsJsonAsync("/auth/login", new { username = "alice", password = "wrong password!" })) { }
        using var response = await host.Client().GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("# TYPE ", text);
        Assert.Contains(" counter\n", text);
        Assert.Contains("invalid_credentials", text);
    }

    [Fact]
    public async Task Metrics_WithAPassword_AnswersOnlyTheMetricsUsersBasicCredentials()
    {
        await using var host = new BouncerHost(("Bouncer:MetricsPassword", "scrape-secret"));
        var pair = await host.LoginJwtAsync("alice");

        using (var anonymous = await host.Client().GetAsync("/metrics"))
        {
            await Problem.AssertAsync(anonymous, HttpStatusCode.Unauthorized, "metrics_auth_required");
            Assert.StartsWith("Basic", anonymous.Headers.WwwAuthenticate.ToString());
        }
        foreach (var wrong in new[] { "metrics:scrape-secre", "metrics:scrape-secretx", "admin:scrape-secret" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(wrong)));
            using var refused = await host.Client().SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }
        // A valid access token is not a scrape credential.
        using (var bearer = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/metrics", pair.AccessToken)))
            Assert.Equal(HttpStatusCode.Unauthorized, bearer.StatusCode);

        using var scrape = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        scrape.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("metrics:scrape-secret")));
        using var allowed = await host.Client().SendAsync(scrape);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Contains("# TYPE ", await allowed.Content.ReadAsStringAsync());
    }

    // ---- cross-cutting ----

    [Fact]
    public async Task Token_SessionLoggedOut_ExchangedTokenRevoked()
    {
        await using var host = new BouncerHost();
        var login = await host.LoginSessionAsync("alice");
        using var exchange = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/token", login.Cookie, new { audience = "bouncer" }));
        var token = (await exchange.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString()!;
        using (var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", token)))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);

        using (var logout = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/logout", login.Cookie)))
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        using (var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", token)))
            await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "token_revoked");
    }

    [Fact]
    public async Task Logout_WithAnExchangedToken_EndsItsSession()
    {
        await using var host = new BouncerHost();
        var login = await host.LoginSessionAsync("alice");
        using var exchange = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/token", login.Cookie, new { audience = "bouncer" }));
        var token = (await exchange.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString()!;

        using (var logout = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/auth/logout", token)))
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);

        using (var me = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", login.Cookie)))
            await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "session_invalid");
        using (var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", token)))
            await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "token_revoked");
        Assert.Empty(await host.Runtime.Sessions.ListUserAsync("alice", default));
    }

    [Theory]
    [InlineData("/auth/logout-all")]
    [InlineData("/admin/users/alice/revoke")]
    public async Task Token_UserRevokedInTheSecondItWasMinted_ExchangedTokenRevoked(string revoke)
    {
        // The clock stands still: mint and revoke fall in one second, which the user cut-off (iat < the
        // revocation's second) cannot tell apart, so only the session's own sid revocation refuses the token.
        await using var host = new BouncerHost(("Bouncer:BootstrapAdmin", "alice")) { Clock = new Bouncer.Tests.ManualClock() };
        var login = await host.LoginSessionAsync("alice");
        using var exchange = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/auth/token", login.Cookie, new { audience = "bouncer" }));
        var token = (await exchange.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString()!;
        using (var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", token)))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);

        using (var revoked = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, revoke, login.Cookie)))
            Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);

        using (var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", token)))
            await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "token_revoked");
    }

    [Fact]
    public async Task Refresh_ReusedCookieToken_Returns401AndClearsCookie()
    {
        await using var host = new BouncerHost(("Bouncer:Refresh:GraceWindow", "00:00:00"));
        await host.RegisterAsync("alice");
        using var login = await host.Client().PostAsJsonAsync("/auth/login", new { username = "alice", password = Passwords.Good, mode = "jwt", transport = "cookie" });
        var cookie = SetCookie.Find(login, BouncerDefaults.RefreshCookieName)!.Value;
        HttpRequestMessage Refresh()
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/auth/refresh");
            request.Headers.Add("Cookie", $"{BouncerDefaults.RefreshCookieName}={cookie}");
            return request;
        }
        using (var first = await host.SendAsync(Refresh()))
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        await Task.Delay(20);
        using var reuse = await host.SendAsync(Refresh());
        await Problem.AssertAsync(reuse, HttpStatusCode.Unauthorized, "refresh_token_reused");
        var cleared = SetCookie.Find(reuse, BouncerDefaults.RefreshCookieName);
        Assert.NotNull(cleared);
        Assert.Equal("", cleared.Value);
        Assert.Equal("/auth/refresh", cleared["Path"]);
    }

    [Fact]
    public async Task Refresh_AccessTokenExpired_StillIssuesNewPair()
    {
        var clock = new Bouncer.Tests.ManualClock();
        await using var host = new BouncerHost { Clock = clock };
        var pair = await host.LoginJwtAsync("alice");
        clock.Advance(TimeSpan.FromMinutes(11));
        using (var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", pair.AccessToken)))
            await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, "token_expired");
        using var refreshed = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = pair.RefreshToken });
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        var next = await TokenPair.ReadAsync(refreshed);
        using (var me = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", next.AccessToken)))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task Refresh_ReuseAfterGraceWindowOnClock_Returns401Reused()
    {
        // The default 5 s grace window, passed on the manual clock rather than by waiting.
        var clock = new Bouncer.Tests.ManualClock();
        await using var host = new BouncerHost { Clock = clock };
        var pair = await host.LoginJwtAsync("alice");
        using (var first = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = pair.RefreshToken }))
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        clock.Advance(TimeSpan.FromSeconds(4));
        using (var replay = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = pair.RefreshToken }))
            Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        clock.Advance(TimeSpan.FromSeconds(2));
        using var reuse = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = pair.RefreshToken });
        await Problem.AssertAsync(reuse, HttpStatusCode.Unauthorized, "refresh_token_reused");
    }
}
