using Bouncer.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Bouncer.Server.Tests;

/// <summary>
/// A minimal library app (AddBouncer, MapBouncerEndpoints, no server host): it logs one start-up line naming mode,
/// store, issuer and audience, and a misconfiguration stops its start with an exception whose message is one line
/// naming the setting, logged once by the host.
/// </summary>
public sealed class LibraryStartupTests
{
    [Fact]
    public async Task Start_GoodSettings_OneInformationLineNamingModeStoreIssuerAudience()
    {
        var logs = new LogCapture();
        await using var app = Build(logs, b => b.Services.AddBouncer(o =>
        {
            o.Mode = BouncerMode.Session;
            o.Issuer = "https://auth.example.com";
            o.Audience = "orders";
        }).UseMemory());

        await app.StartAsync();
        await app.StopAsync();

        var started = Assert.Single(logs.Entries, e => e.Contains("Bouncer started"));
        Assert.StartsWith("Information Bouncer.Hosting.BouncerEngineService[4001] Bouncer started: mode session, store memory, issuer https://auth.example.com, audience orders", started);
    }

    [Theory]
    [InlineData("Bouncer:Issuer")]
    [InlineData("Bouncer:Sessions:IdleTimeout")]
    [InlineData("Bouncer:ExchangeTokenLifetime")]
    public async Task Start_BadOption_OneLineNamingTheSetting_LoggedOnce(string setting)
    {
        var logs = new LogCapture();
        await using var app = Build(logs, b => b.Services.AddBouncer(o =>
        {
            if (setting == "Bouncer:Issuer") o.Issuer = "";
            if (setting == "Bouncer:Sessions:IdleTimeout") o.Sessions.IdleTimeout = TimeSpan.Zero;
            if (setting == "Bouncer:ExchangeTokenLifetime") o.ExchangeTokenLifetime = TimeSpan.FromHours(1);
        }).UseMemory());

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        AssertOneLine(error.Message, setting);
        Assert.Single(logs.Entries, e => e.Contains(error.Message));
    }

    [Fact]
    public async Task Start_UnreachableRedis_BouncerConfigurationException_OneLine_LoggedOnce()
    {
        var logs = new LogCapture();
        await using var app = Build(logs, b => b.Services.AddBouncer().UseRedis("127.0.0.1:1"));

        var error = await Assert.ThrowsAsync<BouncerConfigurationException>(() => app.StartAsync());

        Assert.Equal("UseRedis configuration", error.Setting);
        AssertOneLine(error.Message, "UseRedis configuration: Redis at '127.0.0.1:1' is unreachable");
        Assert.Single(logs.Entries, e => e.Contains(error.Message));
    }

    [Fact]
    public async Task Start_BadPostgresConnectionString_BouncerConfigurationException_OneLine()
    {
        var logs = new LogCapture();
        await using var app = Build(logs, b => b.Services.AddBouncer().UsePostgres("Host=;;="));

        var error = await Assert.ThrowsAsync<BouncerConfigurationException>(() => app.StartAsync());

        AssertOneLine(error.Message, "UsePostgres connectionString: not a valid PostgreSQL connection string");
        Assert.Single(logs.Entries, e => e.Contains(error.Message));
    }

    [Theory]
    [InlineData("Host=;;=", "Host=127.0.0.1", "UsePostgresBehindTransactionPooler connectionString")]
    [InlineData("Host=127.0.0.1", "Host=;;=", "UsePostgresBehindTransactionPooler listenConnectionString")]
    public async Task Start_BadConnectionStringBehindPooler_BouncerConfigurationExceptionNamingTheArgument(string pooled, string listen, string setting)
    {
        var logs = new LogCapture();
        await using var app = Build(logs, b => b.Services.AddBouncer().UsePostgresBehindTransactionPooler(pooled, listen));

        var error = await Assert.ThrowsAsync<BouncerConfigurationException>(() => app.StartAsync());

        Assert.Equal(setting, error.Setting);
        AssertOneLine(error.Message, setting + ": not a valid PostgreSQL connection string");
    }

    private static void AssertOneLine(string message, string expected)
    {
        Assert.StartsWith(expected, message);
        Assert.DoesNotContain('\n', message);
    }

    // As a `dotnet new web` Program.cs would: endpoints mapped before the start, which is where a fault must surface.
    private static WebApplication Build(LogCapture logs, Action<WebApplicationBuilder> configure)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseSetting("urls", "http://127.0.0.1:0");
        builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Information);
        configure(builder);
        var app = builder.Build();
        app.UseBouncer();
        app.MapBouncerEndpoints();
        return app;
    }
}
