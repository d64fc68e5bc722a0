using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Bouncer.Server.Tests;

/// <summary>
/// The admin API for accounts over HTTP (one server, memory stores): what an admin may change, what a non-admin, an
/// anonymous caller, a bad body or a cross-site request get, and what each change does to live credentials.
/// </summary>
public sealed class AdminUsersTests : IAsyncLifetime
{
    private readonly BouncerHost _host = new(("Bouncer:BootstrapAdmin", "root"));
    private SessionLogin _root = null!;

    public async Task InitializeAsync() => _root = await _host.LoginSessionAsync("root");

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private Task<HttpResponseMessage> AsRoot(HttpMethod method, string path, object? json = null) =>
        _host.SendAsync(BouncerHost.WithSession(method, path, _root.Cookie, json));

    private async Task<JsonElement> MeAsync(HttpRequestMessage request)
    {
        using var response = await _host.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static string[] Roles(JsonElement me) => me.GetProperty("roles").EnumerateArray().Select(r => r.GetString()!).ToArray();

    public static TheoryData<string, string> AdminRoutes => new()
    {
        { "GET", "/admin/users" },
        { "POST", "/admin/users" },
        { "GET", "/admin/users/alice" },
        { "PUT", "/admin/users/alice/roles" },
        { "POST", "/admin/users/alice/suspend" },
        { "POST", "/admin/users/alice/unsuspend" },
        { "POST", "/admin/users/alice/unlock" },
        { "DELETE", "/admin/users/alice" },
        { "GET", "/admin/users/alice/sessions" },
        { "DELETE", "/admin/users/alice/sessions/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
        { "POST", "/admin/revoke-all" },
        { "GET", "/admin/audit" },
    };

    [Theory]
    [MemberData(nameof(AdminRoutes))]
    public async Task AdminRoute_NotAdmin_403_Anonymous_401(string method, string path)
    {
        var alice = await _host.LoginSessionAsync("alice");
        using (var forbidden = await _host.SendAsync(BouncerHost.WithSession(new HttpMethod(method), path, alice.Cookie, method is "POST" or "PUT" ? new { roles = new[] { "admin" } } : null)))
            await Problem.AssertAsync(forbidden, HttpStatusCode.Forbidden, "forbidden");
        using (var anonymous = await _host.Client().SendAsync(new HttpRequestMessage(new HttpMethod(method), path)))
            await Problem.AssertAsync(anonymous, HttpStatusCode.Unauthorized, "credential_missing");
        using (var stillActive = await _host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", alice.Cookie)))
            Assert.Equal(HttpStatusCode.OK, stillActive.StatusCode);   // nothing the refused calls asked for happened
    }

    [Theory]
    [InlineData("POST", "/admin/users/alice/suspend")]
    [InlineData("PUT", "/admin/users/alice/roles")]
    [InlineData("POST", "/admin/revoke-all")]
    [InlineData("POST", "/auth/password")]
    public async Task CookiePost_CrossSite_IsRefused(string method, string path)
    {
        await _host.RegisterAsync("alice");
        var request = BouncerHost.WithSession(new HttpMethod(method), path, _root.Cookie, new { roles = new[] { "x" } });
        request.Headers.Add("Origin", "https://evil.test");
        using var response = await _host.SendAsync(request);
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "csrf_rejected");
        using var me = await AsRoot(HttpMethod.Get, "/admin/users/alice");
        var alice = await me.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(alice.GetProperty("suspended").GetBoolean());
        Assert.Empty(alice.GetProperty("roles").EnumerateArray());
    }

    [Fact]
    public async Task CreateShowList_AndTheirUnhappyPaths()
    {
        using (var created = await AsRoot(HttpMethod.Post, "/admin/users", new { username = "Carol", password = Passwords.Good, roles = new[] { "support" } }))
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using (var taken = await AsRoot(HttpMethod.Post, "/admin/users", new { username = "carol", password = Passwords.Good }))
            await Problem.AssertAsync(taken, HttpStatusCode.Conflict, "username_taken");
        using (var weak = await AsRoot(HttpMethod.Post, "/admin/users", new { username = "dave", password = "short" }))
            await Problem.AssertAsync(weak, HttpStatusCode.BadRequest, "invalid_request");
        using (var badRoles = await AsRoot(HttpMethod.Post, "/admin/users", new { username = "dave", password = Passwords.Good, roles = new[] { "Not A Role" } }))
            await Problem.AssertAsync(badRoles, HttpStatusCode.BadRequest, "invalid_roles");
        using (var badBody = await _host.SendAsync(BadJson(HttpMethod.Post, "/admin/users")))
            await Problem.AssertAsync(badBody, HttpStatusCode.BadRequest, "invalid_request");

        var carol = await (await AsRoot(HttpMethod.Get, "/admin/users/carol")).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["support"], carol.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.False(carol.TryGetProperty("password_hash", out _));
        Assert.DoesNotContain("pbkdf2", carol.GetRawText(), StringComparison.OrdinalIgnoreCase);
        using (var unknown = await AsRoot(HttpMethod.Get, "/admin/users/nobody"))
            await Problem.AssertAsync(unknown, HttpStatusCode.NotFound, "user_not_found");

        var list = await (await AsRoot(HttpMethod.Get, "/admin/users?name=ca")).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["carol"], list.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("username").GetString()));
        var page = await (await AsRoot(HttpMethod.Get, "/admin/users?limit=1")).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Single(page.GetProperty("users").EnumerateArray());
        var next = page.GetProperty("next").GetString();
        var second = await (await AsRoot(HttpMethod.Get, $"/admin/users?limit=1&after={next}")).Content.ReadFromJsonAsync<JsonElement>();
        Assert.NotEqual(next, second.GetProperty("users")[0].GetProperty("username").GetString());
    }

    [Fact]
    public async Task RolesChanged_TheUsersSessionSeesThemOnTheNextRequest_TheirTokenMustRefresh()
    {
        var alice = await _host.LoginSessionAsync("alice");
        var pair = await _host.LoginJwtAsync("alice", register: false);
        Assert.Empty(Roles(await MeAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", alice.Cookie))));

        using (var set = await AsRoot(HttpMethod.Put, "/admin/users/alice/roles", new { roles = new[] { "admin" } }))
            Assert.Equal(HttpStatusCode.NoContent, set.StatusCode);

        Assert.Equal(["admin"], Roles(await MeAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", alice.Cookie))));
        using (var stale = await _host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", pair.AccessToken)))
            await Problem.AssertAsync(stale, HttpStatusCode.Unauthorized, "token_revoked");
        await Task.Delay(1100);   // the user cut-off has whole-second precision: the refreshed token is issued after it
        using var refreshed = await _host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = pair.RefreshToken });
        var next = await TokenPair.ReadAsync(refreshed);
        Assert.Equal(["admin"], Roles(await MeAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", next.AccessToken))));

        using (var removed = await AsRoot(HttpMethod.Put, "/admin/users/alice/roles", new { roles = Array.Empty<string>() }))
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        using (var demoted = await _host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/admin/users", alice.Cookie)))
            await Problem.AssertAsync(demoted, HttpStatusCode.Forbidden, "forbidden");
        using (var badRoles = await AsRoot(HttpMethod.Put, "/admin/users/alice/roles", new { roles = new[] { "has space" } }))
            await Problem.AssertAsync(badRoles, HttpStatusCode.BadRequest, "invalid_roles");
        using (var noBody = await _host.SendAsync(BadJson(HttpMethod.Put, "/admin/users/alice/roles")))
            await Problem.AssertAsync(noBody, HttpStatusCode.BadRequest, "invalid_request");
        using (var unknown = await AsRoot(HttpMethod.Put, "/admin/users/nobody/roles", new { roles = new[] { "x" } }))
            await Problem.AssertAsync(unknown, HttpStatusCode.NotFound, "user_not_found");
    }

    [Fact]
    public async Task Suspend_RefusesEveryCredential_LoginLooksLikeAWrongPassword_UnsuspendLetsThemBackIn()
    {
        var alice = await _host.LoginSessionAsync("alice");
        var pair = await _host.LoginJwtAsync("alice", register: false);

        using (var suspend = await AsRoot(HttpMethod.Post, "/admin/users/alice/suspend"))
            Assert.Equal(HttpStatusCode.NoContent, suspend.StatusCode);

        using (var session = await _host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", alice.Cookie)))
            Assert.Equal(HttpStatusCode.Unauthorized, session.StatusCode);
        using (var token = await _host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", pair.AccessToken)))
            await Problem.AssertAsync(token, HttpStatusCode.Unauthorized, "token_revoked");
        using (var refresh = await _host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = pair.RefreshToken }))
            Assert.Equal(HttpStatusCode.Unauthorized, refresh.StatusCode);
        using (var login = await _host.Client().PostAsJsonAsync("/auth/login", new { username = "alice", password = Passwords.Good, mode = "session" }))
            await Problem.AssertAsync(login, HttpStatusCode.Unauthorized, "invalid_credentials");

        using (var unsuspend = await AsRoot(HttpMethod.Post, "/admin/users/alice/unsuspend"))
            Assert.Equal(HttpStatusCode.NoContent, unsuspend.StatusCode);
        await _host.LoginSessionAsync("alice", register: false);
        using (var unknown = await AsRoot(HttpMethod.Post, "/admin/users/nobody/suspend"))
            await Problem.AssertAsync(unknown, HttpStatusCode.NotFound, "user_not_found");
    }

    [Fact]
    public async Task Suspended_WithRevealLockout_LoginSaysUserSuspended()
    {
        await using var host = new BouncerHost(("Bouncer:BootstrapAdmin", "root"), ("Bouncer:Users:RevealLockout", "true"));
        var root = await host.LoginSessionAsync("root");
        await host.RegisterAsync("alice");
        using (var suspend = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Post, "/admin/users/alice/suspend", root.Cookie)))
            Assert.Equal(HttpStatusCode.NoContent, suspend.StatusCode);
        using var login = await host.Client().PostAsJsonAsync("/auth/login", new { username = "alice", password = Passwords.Good, mode = "session" });
        await Problem.AssertAsync(login, HttpStatusCode.Unauthorized, "user_suspended");
    }

    [Fact]
    public async Task Unlock_ClearsALockout()
    {
        await _host.RegisterAsync("alice");
        for (var i = 0; i < 5; i++)
            using (await _host.Client().PostAsJsonAsync("/auth/login", new { username = "alice", password = "wrong password", mode = "session" })) { }
        Assert.NotNull((await _host.Runtime.Stores.Users.GetAsync("alice", default))!.LockedUntil);

        using (var unlock = await AsRoot(HttpMethod.Post, "/admin/users/alice/unlock"))
            Assert.Equal(HttpStatusCode.NoContent, unlock.StatusCode);

        Assert.Null((await _host.Runtime.Stores.Users.GetAsync("alice", default))!.LockedUntil);
        await _host.LoginSessionAsync("alice", register: false);
    }

    [Fact]
    public async Task SessionsOfAUser_ListedAndEndedByHandle_DeleteEndsTheAccount()
    {
        var alice = await _host.LoginSessionAsync("alice");
        var second = await _host.LoginSessionAsync("alice", register: false);
        var list = await (await AsRoot(HttpMethod.Get, "/admin/users/alice/sessions")).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2, list.GetArrayLength());
        var handle = list[0].GetProperty("id").GetString()!;

        using (var end = await AsRoot(HttpMethod.Delete, $"/admin/users/alice/sessions/{handle}"))
            Assert.Equal(HttpStatusCode.NoContent, end.StatusCode);
        using (var again = await AsRoot(HttpMethod.Delete, $"/admin/users/alice/sessions/{handle}"))
            await Problem.AssertAsync(again, HttpStatusCode.NotFound, "session_not_found");
        var statuses = new List<HttpStatusCode>();
        foreach (var cookie in new[] { alice.Cookie, second.Cookie })
            using (var me = await _host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", cookie))) statuses.Add(me.StatusCode);
        Assert.Equal(1, statuses.Count(s => s == HttpStatusCode.OK));

        using (var delete = await AsRoot(HttpMethod.Delete, "/admin/users/alice"))
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        foreach (var cookie in new[] { alice.Cookie, second.Cookie })
            using (var me = await _host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", cookie)))
                Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
        using (var gone = await AsRoot(HttpMethod.Delete, "/admin/users/alice"))
            await Problem.AssertAsync(gone, HttpStatusCode.NotFound, "user_not_found");
    }

    [Fact]
    public async Task RevokeAll_EndsEveryonesCredentials_IncludingTheAdminsOwn()
    {
        var alice = await _host.LoginSessionAsync("alice");
        var pair = await _host.LoginJwtAsync("bob");
        await Task.Delay(1100);   // whole-second cut-off: the credentials above are from an earlier second

        using (var all = await AsRoot(HttpMethod.Post, "/admin/revoke-all"))
            Assert.Equal(HttpStatusCode.NoContent, all.StatusCode);

        using (var session = await _host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", alice.Cookie)))
            await Problem.AssertAsync(session, HttpStatusCode.Unauthorized, "session_invalid");
        using (var token = await _host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", pair.AccessToken)))
            await Problem.AssertAsync(token, HttpStatusCode.Unauthorized, "token_revoked");
        using (var refresh = await _host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = pair.RefreshToken }))
            Assert.Equal(HttpStatusCode.Unauthorized, refresh.StatusCode);
        using (var admin = await AsRoot(HttpMethod.Get, "/api/me"))
            Assert.Equal(HttpStatusCode.Unauthorized, admin.StatusCode);
        await Task.Delay(1100);
        await _host.LoginSessionAsync("alice", register: false);   // a login after the cut-off works
    }

    [Fact]
    public async Task Audit_ListsWhatHappenedToAnAccount_WithActorAndAddress_NeverSecrets()
    {
        var alice = await _host.LoginSessionAsync("alice");
        using (await AsRoot(HttpMethod.Put, "/admin/users/alice/roles", new { roles = new[] { "support" } })) { }
        using (await AsRoot(HttpMethod.Post, "/admin/users/alice/suspend")) { }

        var events = await (await AsRoot(HttpMethod.Get, "/admin/audit?user=alice")).Content.ReadFromJsonAsync<JsonElement>();
        var names = events.EnumerateArray().Select(e => e.GetProperty("event").GetString()).ToList();
        Assert.Contains("user_created", names);
        Assert.Contains("login_succeeded", names);
        Assert.Contains("roles_changed", names);
        Assert.Contains("user_suspended", names);
        var suspended = events.EnumerateArray().First(e => e.GetProperty("event").GetString() == "user_suspended");
        Assert.Equal("root", suspended.GetProperty("actor").GetString());
        Assert.Equal(4122, suspended.GetProperty("id").GetInt32());
        Assert.DoesNotContain(alice.Cookie, events.GetRawText());
        Assert.DoesNotContain(Passwords.Good, events.GetRawText());
        using (var bad = await AsRoot(HttpMethod.Get, "/admin/audit?user=" + Uri.EscapeDataString("a b")))
            await Problem.AssertAsync(bad, HttpStatusCode.BadRequest, "invalid_request");
    }

    private HttpRequestMessage BadJson(HttpMethod method, string path)
    {
        var request = BouncerHost.WithSession(method, path, _root.Cookie);
        request.Content = new StringContent("{not json", System.Text.Encoding.UTF8, "application/json");
        return request;
    }
}
