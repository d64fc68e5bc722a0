using Bouncer.Sessions;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Bouncer.Stores.Tests;

/// <summary><c>UseRedis(configuration)</c> against a real redis-server named by <c>ConnectionStrings:Bouncer</c>.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisConfiguredStoresTests(RedisServer server)
{
    [Fact]
    public async Task UseRedis_FromConnectionStrings_SessionsLandOnThatServerUnderThePrefix()
    {
        var prefix = $"bt:{Guid.NewGuid():N}:";
        var configuration = ConfiguredStoresTests.Configuration(("ConnectionStrings:Bouncer", server.Configuration));
        var builder = new ServiceCollection().AddBouncerCore().UseRedis(configuration, keyPrefix: prefix);
        await using (var provider = builder.Services.BuildServiceProvider())
            await provider.GetRequiredService<SessionManager>().CreateAsync("alice", default);

        var keys = server.Connection.GetServers()[0].Keys(pattern: prefix + "*").ToList();
        Assert.NotEmpty(keys);
    }

    [Fact]
    public async Task UseRedis_ConnectionStringNotRedis_OneLineNamingTheFault()
    {
        var configuration = ConfiguredStoresTests.Configuration(("ConnectionStrings:Bouncer", "127.0.0.1:6379,unknownOption=1"));
        var builder = new ServiceCollection().AddBouncerCore().UseRedis(configuration);
        await using var provider = builder.Services.BuildServiceProvider();

        // A BouncerConfigurationException (an InvalidOperationException) whose one line names the fault.
        var error = Assert.ThrowsAny<InvalidOperationException>(() => provider.GetRequiredService<SessionManager>());
        Assert.Contains("not a valid Redis configuration", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.IsType<ArgumentException>(error.InnerException, exactMatch: false);
    }
}
