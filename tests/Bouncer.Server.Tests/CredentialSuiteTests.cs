using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Bouncer.Tests;

namespace Bouncer.Server.Tests;

/// <summary>
/// One suite, every transport (as aspnetcore's CookieTests inherits SharedAuthenticationTests): what
/// must hold for a credential whatever carries it. Each subclass says how to log in and what its
/// refusal reasons are. The server runs on a manual clock, so expiry needs no waiting.
/// </summary>
public abstract class CredentialSuiteTests
{
    /// <summary>Logs <paramref name="username"/> in; returns a factory of requests carrying the credential.</summary>
    protected abstract Task<Func<HttpMethod, string, HttpRequestMessage>> LoginAsync(BouncerHost host, string username, bool register = true);

    protected abstract string Via { get; }

    /// <summary>The reason a credential gets once it has been ended (logout, logout-all, admin revoke).</summary>
    protected abstract string RevokedReason { get; }

    /// <summary>The reason once its lifetime is over, and how far the clock must move for that.</summary>
    protected abstract string ExpiredReason { get; }

    protected abstract TimeSpan Lifetime { get; }

    /// <summary>A well-formed credential the server never issued.</summary>
    protected abstract Func<HttpMethod, string, HttpRequestMessage> Forged { get; }

    protected abstract string ForgedReason { get; }

    private static BouncerHost NewHost(ManualClock clock) => new(("Bouncer:BootstrapAdmin", "root"), ("Bouncer:TraceHeaders", "true")) { Clock = clock };

    [Fact]
    public async Task ApiMe_FreshCredential_ReportsSubjectAndStrategy()
    {
        await using var host = NewHost(new ManualClock());
        var alice = await LoginAsync(host, "alice");
        using var response = await host.SendAsync(alice(HttpMethod.Get, "/api/me"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var me = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("alice", me.GetProperty("sub").GetString());
        Assert.Equal(Via, me.GetProperty("via").GetString());
        Assert.Contains("strategy=" + Via, response.Headers.GetValues("Bouncer-Trace").Single());
    }

    [Fact]
    public async Task ApiMe_AfterLogout_RefusedButOtherCredentialOfUserLives()
    {
        await using var host = NewHost(new ManualClock());
        var first = await LoginAsync(host, "alice");
        var second = await LoginAsync(host, "alice", register: false);
        using (var logout = await host.SendAsync(first(HttpMethod.Post, "/auth/logout")))
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        using (var me = await host.SendAsync(first(HttpMethod.Get, "/api/me")))
            await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, RevokedReason);
        using (var me = await host.SendAsync(second(HttpMethod.Get, "/api/me")))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task ApiMe_AfterLogoutAll_EveryCredentialOfUserRefused()
    {
        await using var host = NewHost(new ManualClock());
        var first = await LoginAsync(host, "alice");
        var second = await LoginAsync(host, "alice", register: false);
        var bob = await LoginAsync(host, "bob");
        using (var logout = await host.SendAsync(first(HttpMethod.Post, "/auth/logout-all")))
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        foreach (var credential in new[] { first, second })
        {
            using var me = await host.SendAsync(credential(HttpMethod.Get, "/api/me"));
            await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, RevokedReason);
        }
        using (var me = await host.SendAsync(bob(HttpMethod.Get, "/api/me")))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        var again = await LoginAsync(host, "alice", register: false);
        using (var me = await host.SendAsync(again(HttpMethod.Get, "/api/me")))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task AdminRevoke_AdminCredential_TargetRefused()
    {
        await using var host = NewHost(new ManualClock());
        var target = await LoginAsync(host, "alice");
        var admin = await LoginAsync(host, "root");
        using (var revoke = await host.SendAsync(admin(HttpMethod.Post, "/admin/users/alice/revoke")))
            Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        using (var me = await host.SendAsync(target(HttpMethod.Get, "/api/me")))
            await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, RevokedReason);
        using (var me = await host.SendAsync(admin(HttpMethod.Get, "/api/me")))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task AdminRevoke_NonAdminCredential_Returns403()
    {
        await using var host = NewHost(new ManualClock());
        var alice = await LoginAsync(host, "alice");
        using var revoke = await host.SendAsync(alice(HttpMethod.Post, "/admin/users/root/revoke"));
        await Problem.AssertAsync(revoke, HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task ApiMe_LifetimePassed_RefusedAsExpired()
    {
        var clock = new ManualClock();
        await using var host = NewHost(clock);
        var alice = await LoginAsync(host, "alice");
        clock.Advance(Lifetime - TimeSpan.FromMinutes(1));
        using (var me = await host.SendAsync(alice(HttpMethod.Get, "/api/me")))
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        // A full lifetime after the last use: a sliding session extended by that use has ended too.
        clock.Advance(Lifetime + TimeSpan.FromMinutes(1));
        using (var me = await host.SendAsync(alice(HttpMethod.Get, "/api/me")))
            await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, ExpiredReason);
    }

    [Fact]
    public async Task ApiMe_ForgedCredential_Refused()
    {
        await using var host = NewHost(new ManualClock());
        await LoginAsync(host, "alice");
        using var me = await host.SendAsync(Forged(HttpMethod.Get, "/api/me"));
        await Problem.AssertAsync(me, HttpStatusCode.Unauthorized, ForgedReason);
    }
}

public sealed class SessionCredentialTests : CredentialSuiteTests
{
    protected override async Task<Func<HttpMethod, string, HttpRequestMessage>> LoginAsync(BouncerHost host, string username, bool register = true)
    {
        var login = await host.LoginSessionAsync(username, register: register);
        return (method, path) => BouncerHost.WithSession(method, path, login.Cookie);
    }

    protected override string Via => "session";
    protected override string RevokedReason => "session_invalid";
    protected override string ExpiredReason => "session_invalid";

    // The idle timeout (30 min), renewed by each use.
    protected override TimeSpan Lifetime => TimeSpan.FromMinutes(30);
    protected override Func<HttpMethod, string, HttpRequestMessage> Forged => (method, path) => BouncerHost.WithSession(method, path, new string('Q', 43));
    protected override string ForgedReason => "session_invalid";
}

public sealed class JwtCredentialTests : CredentialSuiteTests
{
    protected override async Task<Func<HttpMethod, string, HttpRequestMessage>> LoginAsync(BouncerHost host, string username, bool register = true)
    {
        var pair = await host.LoginJwtAsync(username, register: register);
        return (method, path) => BouncerHost.WithBearer(method, path, pair.AccessToken);
    }

    protected override string Via => "jwt";
    protected override string RevokedReason => "token_revoked";
    protected override string ExpiredReason => "token_expired";

    // 10 minutes plus the 30 s verification skew.
    protected override TimeSpan Lifetime => TimeSpan.FromMinutes(10.5);

    protected override Func<HttpMethod, string, HttpRequestMessage> Forged => (method, path) => BouncerHost.WithBearer(method, path,
        Jwt.Segment("{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"forged\"}") + "." + Jwt.Segment("{\"sub\":\"alice\",\"iss\":\"urn:bouncer\",\"aud\":\"bouncer\",\"exp\":9999999999}") + "." + new string('A', 86));

    protected override string ForgedReason => "unknown_kid";
}
