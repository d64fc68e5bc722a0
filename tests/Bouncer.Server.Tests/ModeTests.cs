using System.Net;
using System.Net.Http.Json;

namespace Bouncer.Server.Tests;

/// <summary>Session-only and JWT-only deployments refuse the other strategy with stable reasons.</summary>
public sealed class ModeTests
{
    [Fact]
    public async Task LoginJwt_SessionDeployment_Returns400ModeNotEnabled()
    {
        await using var host = new BouncerHost(("Bouncer:Mode", "Session"));
        await host.RegisterAsync("alice");
        using var response = await host.Client().PostAsJsonAsync("/auth/login", new { username = "alice", password = Passwords.Good, mode = "jwt" });
        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "mode_not_enabled");
    }

    [Fact]
    public async Task Refresh_SessionDeployment_Returns400ModeNotEnabled()
    {
        await using var host = new BouncerHost(("Bouncer:Mode", "Session"));
        using var response = await host.Client().PostAsJsonAsync("/auth/refresh", new { refresh_token = new string('A', 43) });
        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "mode_not_enabled");
    }

    [Fact]
    public async Task Login_SessionDeploymentWithoutMode_DefaultsToSession()
    {
        await using var host = new BouncerHost(("Bouncer:Mode", "Session"));
        await host.RegisterAsync("alice");
        using var response = await host.Client().PostAsJsonAsync("/auth/login", new { username = "alice", password = Passwords.Good });
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Fact]
    public async Task Login_JwtDeploymentWithoutMode_DefaultsToJwt()
    {
        await using var host = new BouncerHost(("Bouncer:Mode", "Jwt"));
        await host.RegisterAsync("alice");
        using var response = await host.Client().PostAsJsonAsync("/auth/login", new { username = "alice", password = Passwords.Good });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull((await TokenPair.ReadAsync(response)).RefreshToken);
    }

    [Fact]
    public async Task Token_JwtDeployment_Returns400ModeNotEnabled()
    {
        await using var host = new BouncerHost(("Bouncer:Mode", "Jwt"));
        var pair = await host.LoginJwtAsync("alice");
        using var response = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/auth/token", pair.AccessToken, new { audience = "orders-api" }));
        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "mode_not_enabled");
    }

    [Fact]
    public async Task ApiMe_JwtDeploymentWithSessionCookie_Returns401CredentialMissing()
    {
        await using var host = new BouncerHost(("Bouncer:Mode", "Jwt"));
        using var response = await host.SendAsync(BouncerHost.WithSession(HttpMethod.Get, "/api/me", new string('A', 43)));
        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "credential_missing");
    }

    [Fact]
    public async Task AdminRevoke_BadUsername_Returns400()
    {
        await using var host = new BouncerHost(("Bouncer:BootstrapAdmin", "root"));
        var admin = await host.LoginJwtAsync("root");
        using var response = await host.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/admin/users/a%20b/revoke", admin.AccessToken));
        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }
}
