using Bouncer.Sessions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Bouncer.Stores.Tests;

/// <summary>
/// <c>AddBouncerCore(configuration.GetSection("Bouncer")).UseX(configuration)</c>: options come from the section, the
/// store from <c>ConnectionStrings:Bouncer</c>, and a missing connection string is one line naming the setting.
/// </summary>
public sealed class ConfiguredStoresTests : IDisposable
{
    private readonly SqliteTempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    internal static IConfiguration Configuration(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public async Task UseSqlite_FromConnectionStrings_SessionsLandInThatFileWithTheSectionsOptions()
    {
        var path = _temp.NewPath();
        var configuration = Configuration(
            ("ConnectionStrings:Bouncer", $"Data Source={path}"),
            ("Bouncer:Issuer", "https://auth.example.test"),
            ("Bouncer:Sessions:IdleTimeout", "00:07:00"));
        var services = new ServiceCollection();
        services.AddBouncerCore(configuration.GetSection("Bouncer")).UseSqlite(configuration);
        await using (var provider = services.BuildServiceProvider())
        {
            var options = provider.GetRequiredService<IOptions<BouncerEngineOptions>>().Value;
            Assert.Equal("https://auth.example.test", options.Issuer);
            Assert.Equal(TimeSpan.FromMinutes(7), options.Sessions.IdleTimeout);
            await provider.GetRequiredService<SessionManager>().CreateAsync("alice", default);
        }

        Assert.Equal(1L, SqliteTempFolder.Scalar(path, "SELECT count(*) FROM bouncer_sessions"));
    }

    [Fact]
    public async Task UseSqlite_NamedConnectionString_ReadsThatName()
    {
        var path = _temp.NewPath();
        var configuration = Configuration(("ConnectionStrings:Auth", path));
        var services = new ServiceCollection();
        services.AddBouncerCore().UseSqlite(configuration, connectionStringName: "Auth");
        await using (var provider = services.BuildServiceProvider())
            await provider.GetRequiredService<SessionManager>().CreateAsync("alice", default);

        Assert.Equal(1L, SqliteTempFolder.Scalar(path, "SELECT count(*) FROM bouncer_sessions"));
    }

    public static TheoryData<string> Backends => ["sqlite", "redis", "postgres"];

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task UseX_ConnectionStringMissingOrBlank_OneLineNamingTheSetting(string backend)
    {
        foreach (var configuration in new[] { Configuration(), Configuration(("ConnectionStrings:Bouncer", " ")) })
        {
            var builder = new ServiceCollection().AddBouncerCore();
            _ = backend switch
            {
                "sqlite" => builder.UseSqlite(configuration),
                "redis" => builder.UseRedis(configuration),
                _ => builder.UsePostgres(configuration),
            };
            await using var provider = builder.Services.BuildServiceProvider();

            var error = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<SessionManager>());
            Assert.StartsWith("ConnectionStrings:Bouncer is not set", error.Message);
            Assert.Contains("ConnectionStrings__Bouncer", error.Message);
            Assert.DoesNotContain('\n', error.Message);
        }
    }

    [Fact]
    public async Task UseSqlite_GivenASectionInsteadOfTheRoot_NamesTheFullPathItSearched()
    {
        var configuration = Configuration(("ConnectionStrings:Bouncer", _temp.NewPath()));
        var builder = new ServiceCollection().AddBouncerCore().UseSqlite(configuration.GetSection("Bouncer"));
        await using var provider = builder.Services.BuildServiceProvider();

        var error = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<SessionManager>());
        Assert.StartsWith("Bouncer:ConnectionStrings:Bouncer is not set", error.Message);
    }
}
