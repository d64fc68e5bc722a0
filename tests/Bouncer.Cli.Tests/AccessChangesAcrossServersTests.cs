using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Bouncer.Stores.Tests;

namespace Bouncer.Cli.Tests;

/// <summary>
/// Access changes made on one server reach another: two real server processes (A and B, near cache on) on one
/// Redis or PostgreSQL store, talked to over HTTP only. A role removed on A is gone from the user's session and
/// refreshed token on B (an admin-only route answers 403); a suspension on A refuses every credential of the user
/// on B; a password change with sign_out_others keeps the caller under a new session id and ends the others on
/// both servers; and each change is in <c>GET /admin/audit</c> read on B.
/// </summary>
/// <remarks>
/// Each test has its own key prefix / schema (<c>--Bouncer:StorePrefix</c>), so its accounts start empty. The
/// polls have a generous deadline on purpose: the assertions are about what B accepts and refuses once the
/// change reached it, not how fast it did (that is for the benches).
/// </remarks>
public abstract class AccessChangesAcrossServersTests
{
    private const string Root = "root";
    private const string Alice = "alice";
    private const string NewPassword = "an entirely new passphrase";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan PollEvery = TimeSpan.FromMilliseconds(50);

    /// <summary>Tokens carry a whole-second iat and a user cut-off has whole-second precision: a token minted after this long is past it.</summary>
    private static readonly TimeSpan PastTheCutOffSecond = TimeSpan.FromMilliseconds(1100);

    /// <summary>The <c>--store</c> value.</summary>
    protected abstract string Kind { get; }

    /// <summary>The <c>--connection</c> value.</summary>
    protected abstract string Connection { get; }

    /// <summary>A key prefix / schema name no other test uses.</summary>
    protected abstract string NewPrefix();

    [Fact]
    public async Task RoleRemovedOnA_SessionAndRefreshedTokenOnB_LackTheRole_AdminRouteIs403_AndAuditListsIt()
    {
        await using var servers = await Servers.StartAsync(this);
        var (a, b, root) = (servers.A, servers.B, servers.RootCookie);
        await a.RegisterAsync(Alice);
        using (var grant = await a.SendAsync(HttpMethod.Put, $"/admin/users/{Alice}/roles", cookie: root, json: new { roles = new[] { "admin" } }))
            await AssertStatusAsync(grant, HttpStatusCode.NoContent, "PUT roles [admin] on A");
        await Task.Delay(PastTheCutOffSecond);   // the grant cut alice off: her token must be minted after that second

        // Alice signs in on B after the grant: both credentials carry admin there.
        var session = await b.LoginSessionAsync(Alice);
        var pair = await b.LoginJwtAsync(Alice);
        var tokenMinted = Stopwatch.StartNew();
        await EventuallyAsync(b, "alice's session on B: GET /admin/users", () => b.SendAsync(HttpMethod.Get, "/admin/users", cookie: session), HttpStatusCode.OK);
        await EventuallyAsync(b, "alice's token on B: GET /admin/users", () => b.SendAsync(HttpMethod.Get, "/admin/users", bearer: pair.AccessToken), HttpStatusCode.OK);
        Assert.Contains("admin", await RolesAsync(b, session, null) ?? []);
        Assert.Contains("admin", await RolesAsync(b, null, pair.AccessToken) ?? []);

        // The cut-off is the whole second of the change and refuses iat < that second: a token minted earlier in
        // the change's own second survives it (RevocationSet). Remove the role in a later second than the token's.
        var sinceMinted = PastTheCutOffSecond - tokenMinted.Elapsed;
        if (sinceMinted > TimeSpan.Zero) await Task.Delay(sinceMinted);
        var removedAt = Stopwatch.StartNew();
        using (var remove = await a.SendAsync(HttpMethod.Put, $"/admin/users/{Alice}/roles", cookie: root, json: new { roles = Array.Empty<string>() }))
            await AssertStatusAsync(remove, HttpStatusCode.NoContent, "PUT roles [] on A");

        // The session on B reads the account (its near cache entry invalidated by the push): no admin, so 403.
        await EventuallyAsync(b, "alice's session on B: GET /api/me without admin", async () =>
        {
            var roles = await RolesAsync(b, session, null);
            return roles is not null && !roles.Contains("admin");
        });
        await EventuallyAsync(b, "alice's session on B: GET /admin/users", () => b.SendAsync(HttpMethod.Get, "/admin/users", cookie: session), HttpStatusCode.Forbidden, "forbidden");
        // The token minted before the change is refused outright.
        await EventuallyAsync(b, "alice's old token on B: GET /api/me", () => b.SendAsync(HttpMethod.Get, "/api/me", bearer: pair.AccessToken), HttpStatusCode.Unauthorized, "token_revoked");
        await EventuallyAsync(b, "alice's old token on B: GET /admin/users", () => b.SendAsync(HttpMethod.Get, "/admin/users", bearer: pair.AccessToken), HttpStatusCode.Unauthorized, "token_revoked");

        // The refresh on B carries the account's roles now: none.
        var wait = PastTheCutOffSecond - removedAt.Elapsed;
        if (wait > TimeSpan.Zero) await Task.Delay(wait);
        TokenPair next;
        using (var refreshed = await b.SendAsync(HttpMethod.Post, "/auth/refresh", json: new { refresh_token = pair.RefreshToken }))
        {
            await AssertStatusAsync(refreshed, HttpStatusCode.OK, "POST /auth/refresh on B");
            next = await TokenPair.ReadAsync(refreshed);
        }
        var refreshedRoles = await RolesAsync(b, null, next.AccessToken);
        Assert.True(refreshedRoles is not null, "the refreshed token on B: GET /api/me was refused");
        Assert.DoesNotContain("admin", refreshedRoles);
        using (var forbidden = await b.SendAsync(HttpMethod.Get, "/admin/users", bearer: next.AccessToken))
            await AssertStatusAsync(forbidden, HttpStatusCode.Forbidden, "the refreshed token on B: GET /admin/users", "forbidden");

        var trail = await AuditOnBAsync(servers, "roles_changed");
        Assert.Contains(trail, e => e.Event == "roles_changed" && e.Actor == Root && e.Subject == Alice);
    }

    [Fact]
    public async Task SuspendedOnA_EveryCredentialOfTheUserIsRefusedOnB_AndAuditListsIt()
    {
        await using var servers = await Servers.StartAsync(this);
        var (a, b, root) = (servers.A, servers.B, servers.RootCookie);
        await a.RegisterAsync(Alice);
        var session = await b.LoginSessionAsync(Alice);
        var pair = await b.LoginJwtAsync(Alice);
        // Accepted first: B's near cache now holds the session and the account.
        using (var me = await b.SendAsync(HttpMethod.Get, "/api/me", cookie: session))
            await AssertStatusAsync(me, HttpStatusCode.OK, "alice's session on B before the suspension");
        using (var me = await b.SendAsync(HttpMethod.Get, "/api/me", bearer: pair.AccessToken))
            await AssertStatusAsync(me, HttpStatusCode.OK, "alice's token on B before the suspension");

        using (var suspend = await a.SendAsync(HttpMethod.Post, $"/admin/users/{Alice}/suspend", cookie: root))
            await AssertStatusAsync(suspend, HttpStatusCode.NoContent, "POST suspend on A");

        await EventuallyAsync(b, "alice's session on B: GET /api/me", () => b.SendAsync(HttpMethod.Get, "/api/me", cookie: session), HttpStatusCode.Unauthorized);
        await EventuallyAsync(b, "alice's token on B: GET /api/me", () => b.SendAsync(HttpMethod.Get, "/api/me", bearer: pair.AccessToken), HttpStatusCode.Unauthorized);
        // Once B has heard of it: the refresh family and the password are refused too (one try each: a refused
        // refresh must be refused for the suspension, not for reuse of a token a first try rotated).
        using (var refresh = await b.SendAsync(HttpMethod.Post, "/auth/refresh", json: new { refresh_token = pair.RefreshToken }))
            await AssertStatusAsync(refresh, HttpStatusCode.Unauthorized, "POST /auth/refresh on B");
        using (var login = await b.SendAsync(HttpMethod.Post, "/auth/login", json: new { username = Alice, password = ServerProcess.Password, mode = "session" }))
            await AssertStatusAsync(login, HttpStatusCode.Unauthorized, "POST /auth/login on B", "invalid_credentials");
        using (var login = await b.SendAsync(HttpMethod.Post, "/auth/login", json: new { username = Alice, password = ServerProcess.Password, mode = "jwt" }))
            await AssertStatusAsync(login, HttpStatusCode.Unauthorized, "POST /auth/login (jwt) on B", "invalid_credentials");
        // Still refused after all of that.
        using (var me = await b.SendAsync(HttpMethod.Get, "/api/me", cookie: session))
            await AssertStatusAsync(me, HttpStatusCode.Unauthorized, "alice's session on B after the suspension");

        var trail = await AuditOnBAsync(servers, "user_suspended");
        Assert.Contains(trail, e => e.Event == "user_suspended" && e.Actor == Root && e.Subject == Alice);
    }

    [Fact]
    public async Task PasswordChangeOnA_SignOutOthers_KeepsTheCallerUnderANewId_EndsTheOthersOnBoth_AndAuditListsIt()
    {
        await using var servers = await Servers.StartAsync(this);
        var (a, b) = (servers.A, servers.B);
        await a.RegisterAsync(Alice);
        var first = await b.LoginSessionAsync(Alice);
        var second = await b.LoginSessionAsync(Alice);
        var third = await a.LoginSessionAsync(Alice);
        var others = new[] { ("session 1 (old id)", first), ("session 2", second), ("session 3", third) };
        // Accepted first on both: each near cache now holds the three sessions.
        foreach (var server in new[] { a, b })
            foreach (var (name, cookie) in others)
                using (var me = await server.SendAsync(HttpMethod.Get, "/api/me", cookie: cookie))
                    await AssertStatusAsync(me, HttpStatusCode.OK, $"{name} on {servers.NameOf(server)} before the change");

        string rotated;
        using (var change = await a.SendAsync(HttpMethod.Post, "/auth/password", cookie: first,
            json: new { current_password = ServerProcess.Password, new_password = NewPassword, sign_out_others = true }))
        {
            await AssertStatusAsync(change, HttpStatusCode.NoContent, "POST /auth/password with session 1 on A");
            rotated = ServerProcess.SessionCookieOf(change) ?? throw new InvalidOperationException("POST /auth/password set no session cookie.");
        }
        Assert.NotEqual(first, rotated);

        await EventuallyAsync(b, "the new cookie on B: GET /api/me", () => b.SendAsync(HttpMethod.Get, "/api/me", cookie: rotated), HttpStatusCode.OK);
        foreach (var server in new[] { a, b })
            foreach (var (name, cookie) in others)
                await EventuallyAsync(server, $"{name} on {servers.NameOf(server)}: GET /api/me", () => server.SendAsync(HttpMethod.Get, "/api/me", cookie: cookie), HttpStatusCode.Unauthorized);
        // The caller carries on, on both servers, after the others were ended.
        foreach (var server in new[] { a, b })
            using (var me = await server.SendAsync(HttpMethod.Get, "/api/me", cookie: rotated))
                await AssertStatusAsync(me, HttpStatusCode.OK, $"the new cookie on {servers.NameOf(server)} after the change");
        // The new password works on B.
        await b.LoginSessionAsync(Alice, NewPassword);

        var trail = await AuditOnBAsync(servers, "password_changed");
        Assert.Contains(trail, e => e.Event == "password_changed" && e.Subject == Alice);
    }

    /// <summary>The roles <c>GET /api/me</c> shows for one credential; null when it is refused.</summary>
    private static async Task<string[]?> RolesAsync(ServerProcess server, string? cookie, string? bearer)
    {
        using var me = await server.SendAsync(HttpMethod.Get, "/api/me", cookie: cookie, bearer: bearer);
        if (me.StatusCode != HttpStatusCode.OK) return null;
        using var doc = JsonDocument.Parse(await me.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("roles").EnumerateArray().Select(r => r.GetString()!).ToArray();
    }

    private sealed record AuditEntry(string? Event, string? Actor, string? Subject, string? Reason);

    /// <summary>GET /admin/audit?user=alice on B with root's session, polled until it lists <paramref name="kind"/>.</summary>
    private async Task<List<AuditEntry>> AuditOnBAsync(Servers servers, string kind)
    {
        List<AuditEntry> trail = [];
        await EventuallyAsync(servers.B, $"GET /admin/audit?user={Alice} on B lists {kind}", async () =>
        {
            using var response = await servers.B.SendAsync(HttpMethod.Get, $"/admin/audit?user={Alice}", cookie: servers.RootCookie);
            if (response.StatusCode != HttpStatusCode.OK) return false;
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            trail = doc.RootElement.EnumerateArray().Select(e => new AuditEntry(
                Text(e, "event"), Text(e, "actor"), Text(e, "subject"), Text(e, "reason"))).ToList();
            return trail.Any(e => e.Event == kind);
        }, () => "trail: " + string.Join(", ", trail.Select(e => $"{e.Event} by {e.Actor} on {e.Subject} ({e.Reason})")));
        return trail;
    }

    private static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static async Task AssertStatusAsync(HttpResponseMessage response, HttpStatusCode status, string what, string? reason = null)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{what}: {(int)response.StatusCode} {text}, expected {(int)status}.");
        if (reason is not null) Assert.Equal(reason, await ServerProcess.ReasonOfAsync(response));
    }

    /// <summary>Polls one request until it answers <paramref name="status"/> (and <paramref name="reason"/>, when given), or fails with the last answer.</summary>
    private Task EventuallyAsync(ServerProcess server, string what, Func<Task<HttpResponseMessage>> send, HttpStatusCode status, string? reason = null)
    {
        var last = "no answer";
        return EventuallyAsync(server, what, async () =>
        {
            using var response = await send();
            var seen = await ServerProcess.ReasonOfAsync(response);
            last = $"{(int)response.StatusCode} {seen}";
            return response.StatusCode == status && (reason is null || seen == reason);
        }, () => $"expected {(int)status} {reason}, last answer {last}");
    }

    private async Task EventuallyAsync(ServerProcess server, string what, Func<Task<bool>> holds, Func<string>? detail = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await holds()) return;
            if (clock.Elapsed > Deadline) break;
            await Task.Delay(PollEvery);
        }
        Assert.Fail($"{Kind}: {what}: not so after {Deadline.TotalSeconds:0} s. {detail?.Invoke()}\nserver output:\n{server.OutputTail}");
    }

    /// <summary>Servers A and B on one store and prefix, A started first (it creates the schema and keys), and root's session.</summary>
    private sealed class Servers : IAsyncDisposable
    {
        private Servers(ServerProcess a, ServerProcess b, string rootCookie) => (A, B, RootCookie) = (a, b, rootCookie);

        public ServerProcess A { get; }

        public ServerProcess B { get; }

        /// <summary>Root's session cookie, made on A; the sessions live in the shared store, so it works on B too.</summary>
        public string RootCookie { get; }

        public string NameOf(ServerProcess server) => ReferenceEquals(server, A) ? "A" : "B";

        public static async Task<Servers> StartAsync(AccessChangesAcrossServersTests test)
        {
            string[] arguments = ["--Bouncer:StorePrefix", test.NewPrefix(), "--Bouncer:BootstrapAdmin", Root];
            var a = await ServerProcess.StartAsync(test.Kind, test.Connection, arguments);
            ServerProcess? b = null;
            try
            {
                b = await ServerProcess.StartAsync(test.Kind, test.Connection, arguments);
                await a.RegisterAsync(Root);
                var root = await a.LoginSessionAsync(Root);
                return new Servers(a, b, root);
            }
            catch
            {
                if (b is not null) await b.DisposeAsync();
                await a.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await B.DisposeAsync();
            await A.DisposeAsync();
        }
    }
}

[Collection(RedisCollection.Name)]
public sealed class RedisAccessChangesAcrossServersTests(RedisServer redis) : AccessChangesAcrossServersTests
{
    protected override string Kind => "redis";
    protected override string Connection => redis.Configuration;
    protected override string NewPrefix() => $"acc{Guid.NewGuid():N}:";
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresAccessChangesAcrossServersTests(PostgresServer postgres) : AccessChangesAcrossServersTests
{
    protected override string Kind => "postgres";
    protected override string Connection => postgres.ConnectionString;
    protected override string NewPrefix() => $"acc{Guid.NewGuid():N}"[..30];   // a schema name: at most 30 characters, lowercase
}

[Collection(RedisClusterCollection.Name)]
public sealed class RedisClusterAccessChangesAcrossServersTests(RedisClusterServer cluster) : AccessChangesAcrossServersTests
{
    protected override string Kind => "redis";
    protected override string Connection => cluster.Configuration;   // every node: the servers find the cluster's slot map
    protected override string NewPrefix() => $"acc{Guid.NewGuid():N}:";
}
