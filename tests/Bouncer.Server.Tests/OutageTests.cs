using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Bouncer.Stores.Tests;

namespace Bouncer.Server.Tests;

/// <summary>
/// A store killed under a running server: answers are 503 with a reason and Retry-After (never a 500, never a 401 for
/// a credential that is not at fault), /healthz says so, and everything recovers by itself when the store is back.
/// </summary>
public sealed class OutageTests
{
    private static async Task<HttpResponseMessage> EventuallyAsync(Func<Task<HttpResponseMessage>> send, HttpStatusCode wanted, string what)
    {
        HttpResponseMessage? last = null;
        for (var i = 0; i < 150; i++)
        {
            last?.Dispose();
            last = await send();
            if (last.StatusCode == wanted) return last;
            Assert.NotEqual(HttpStatusCode.InternalServerError, last.StatusCode);
            await Task.Delay(100);
        }
        Assert.Fail($"{what}: wanted {(int)wanted}, last {(int)last!.StatusCode} {await last.Content.ReadAsStringAsync()}");
        return last;
    }

    [Fact]
    public async Task RedisKilled_503WithRetryAfter_NeverA500_HealthSaysDown_ThenRecovers()
    {
        using var redis = new RedisServer();
        await using var host = new BouncerHost(("Bouncer:Store", "redis"), ("Bouncer:Connection", redis.Configuration),
            ("Bouncer:StorePrefix", $"out{Guid.NewGuid():N}:"), ("Bouncer:Revocation:StaleAfter", "00:00:01"));
        var session = await host.LoginSessionAsync("alice");
        var pair = await host.LoginJwtAsync("alice", register: false);

        redis.Kill();

        using (var login = await EventuallyAsync(() => host.Client().PostAsJsonAsync("/auth/login", new { username = "alice", password = Passwords.Good, mode = "session" }),
            HttpStatusCode.ServiceUnavailable, "login while Redis is down"))
        {
            await Problem.AssertAsync(login, HttpStatusCode.ServiceUnavailable, "store_unavailable");
            Assert.Equal("1", login.Headers.GetValues("Retry-After").Single());
        }
        // Once the push connection is stale the near cache cannot vouch for the session, and the store cannot either.
        using (var me = await EventuallyAsync(() => host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", session.Cookie)),
            HttpStatusCode.ServiceUnavailable, "session check while Redis is down"))
            await Problem.AssertAsync(me, HttpStatusCode.ServiceUnavailable, "store_unavailable");
        // The token is good: it must not be thrown away as a 401.
        using (var token = await EventuallyAsync(() => host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", pair.AccessToken)),
            HttpStatusCode.ServiceUnavailable, "token check while the revocation state is stale"))
        {
            await Problem.AssertAsync(token, HttpStatusCode.ServiceUnavailable, "revocation_state_stale");
            Assert.True(token.Headers.Contains("Retry-After"));
        }
        using (var health = await EventuallyAsync(() => host.Client().GetAsync("/healthz"), HttpStatusCode.ServiceUnavailable, "health while Redis is down"))
            Assert.Equal("down", (await health.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("store").GetString());

        redis.Restart();

        using (await EventuallyAsync(() => host.Client().GetAsync("/healthz"), HttpStatusCode.OK, "health after the restart")) { }
        using (await EventuallyAsync(() => host.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", pair.AccessToken)), HttpStatusCode.OK, "token after the restart")) { }
        await host.LoginSessionAsync("alice", register: false);
    }
}
