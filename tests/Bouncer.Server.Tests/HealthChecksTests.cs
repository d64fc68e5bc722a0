using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Bouncer.AspNetCore;
using Bouncer.Revocation;
using Bouncer.Stores.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Bouncer.Server.Tests;

/// <summary>
/// /healthz is ASP.NET Core health checks: one IHealthCheck per dependency, registered by AddBouncer, a JSON body per
/// check, 503 when a required one is down (a real PostgreSQL killed under the server; Redis in OutageTests).
/// </summary>
public sealed class HealthChecksTests
{
    [Fact]
    public async Task Healthz_Started_EachDependencyUpWithItsOwnEntry()
    {
        await using var host = new BouncerHost();
        using var response = await host.Client().GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("no-store, no-cache", response.Headers.CacheControl?.ToString());
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("ok", body.GetProperty("status").GetString());
        Assert.Equal("up", body.GetProperty("store").GetString());
        Assert.Equal("fresh", body.GetProperty("revocation").GetString());
        var checks = body.GetProperty("checks");
        Assert.Equal("ok", checks.GetProperty(BouncerHealthChecks.StoreCheck).GetProperty("status").GetString());
        Assert.Equal("ok", checks.GetProperty(BouncerHealthChecks.RevocationCheck).GetProperty("status").GetString());
    }

    [Fact]
    public async Task MapBouncerHealthChecks_AppWithAnAuthenticatedFallbackPolicy_AnswersAnonymousProbes()
    {
        // An app that makes every endpoint require a user unless it says otherwise (review finding 8).
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddBouncer().UseMemory();
        builder.Services.AddAuthorization(o => o.FallbackPolicy = new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build());
        await using var app = builder.Build();
        app.UseBouncer();
        app.MapBouncerHealthChecks("/healthz");
        app.MapGet("/private", () => "secret");
        await app.StartAsync();
        using var client = app.GetTestClient();

        using var health = await client.GetAsync("/healthz");
        using var other = await client.GetAsync("/private");

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("ok", (await health.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, other.StatusCode);
    }

    [Fact]
    public async Task Healthz_PostgresKilled_503StoreDown_ThenRecovers()
    {
        using var postgres = PostgresServer.StartPrivate();
        await using var host = new BouncerHost(("Bouncer:Store", "postgres"), ("Bouncer:Connection", postgres.ConnectionString),
            ("Bouncer:StorePrefix", $"health{Guid.NewGuid():N}"));
        using (var up = await host.Client().GetAsync("/healthz"))
            Assert.Equal(HttpStatusCode.OK, up.StatusCode);

        postgres.Kill();

        using (var down = await EventuallyAsync(host, HttpStatusCode.ServiceUnavailable))
        {
            var body = await down.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("unavailable", body.GetProperty("status").GetString());
            Assert.Equal("down", body.GetProperty("store").GetString());
            Assert.Equal("unavailable", body.GetProperty("checks").GetProperty(BouncerHealthChecks.StoreCheck).GetProperty("status").GetString());
            // Public answer: no host, port or driver message.
            var text = body.GetRawText();
            Assert.DoesNotContain(postgres.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), text);
            Assert.DoesNotContain("127.0.0.1", text);
        }

        postgres.Restart();
        using (await EventuallyAsync(host, HttpStatusCode.OK)) { }
    }

    // Stale under Refuse: every token check answers 503, so the instance is out of rotation. Under FallBackToStore the
    // checks still answer (a store read each): degraded, still 200 by ASP.NET Core's default status mapping.
    [Theory]
    [InlineData(StalenessPolicy.Refuse, HealthStatus.Unhealthy)]
    [InlineData(StalenessPolicy.FallBackToStore, HealthStatus.Degraded)]
    public async Task RevocationCheck_Stale_StatusByPolicy(StalenessPolicy policy, HealthStatus expected)
    {
        // A listener that never started has nothing vouching for its state: stale.
        await using var listener = new RevocationListener(new InProcessRevocationChannel());
        var options = Options.Create(new BouncerOptions { Revocation = { Policy = policy } });
        var check = new BouncerRevocationHealthCheck(listener, options);

        var result = await check.CheckHealthAsync(new HealthCheckContext());

        Assert.Equal(expected, result.Status);
        Assert.Equal("stale", result.Description);
    }

    [Fact]
    public async Task AddBouncer_LibraryApp_RegistersOneCheckPerDependency()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddBouncer().UseMemory();
        await using var app = builder.Build();
        await app.StartAsync();
        try
        {
            var report = await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
            Assert.Equal(HealthStatus.Healthy, report.Status);
            Assert.Equal([BouncerHealthChecks.RevocationCheck, BouncerHealthChecks.StoreCheck], report.Entries.Keys.Order());
        }
        finally
        {
            await app.StopAsync();
        }
    }

    private static async Task<HttpResponseMessage> EventuallyAsync(BouncerHost host, HttpStatusCode wanted)
    {
        HttpResponseMessage? last = null;
        for (var i = 0; i < 150; i++)
        {
            last?.Dispose();
            last = await host.Client().GetAsync("/healthz");
            if (last.StatusCode == wanted) return last;
            Assert.NotEqual(HttpStatusCode.InternalServerError, last.StatusCode);
            await Task.Delay(100);
        }
        Assert.Fail($"/healthz: wanted {(int)wanted}, last {(int)last!.StatusCode} {await last.Content.ReadAsStringAsync()}");
        return last;
    }
}
