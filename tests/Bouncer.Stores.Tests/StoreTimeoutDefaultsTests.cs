using Bouncer.Stores.Postgres;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using StackExchange.Redis;

namespace Bouncer.Stores.Tests;

/// <summary>
/// The stores' bounded waits apply to every timeout the connection string leaves unset, decided by option name (review
/// finding 6: "asyncTimeout" contains "syncTimeout", "Command Timeout" contains "Timeout", so one explicit timeout
/// used to switch off the default of the other).
/// </summary>
public sealed class StoreTimeoutDefaultsTests
{
    [Theory]
    [InlineData("Host=127.0.0.1;Command Timeout=30", 3, 30)]
    [InlineData("Host=127.0.0.1;CommandTimeout=30", 3, 30)]
    [InlineData("Host=127.0.0.1;Timeout=10", 10, 5)]
    [InlineData("Host=127.0.0.1;Timeout=10;Command Timeout=30", 10, 30)]
    [InlineData("Host=127.0.0.1;Database=\"Timeout\"", 3, 5)]
    public void PostgresDataSource_OneTimeoutGiven_TheOtherKeepsItsDefault(string connectionString, int connect, int command)
    {
        using var dataSource = PostgresDataSources.Create(connectionString);
        var built = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);

        Assert.Equal(connect, built.Timeout);
        Assert.Equal(command, built.CommandTimeout);
    }

    [Theory]
    [InlineData("127.0.0.1:6379,asyncTimeout=5000", 5000, 1000)]
    [InlineData("127.0.0.1:6379,syncTimeout=3000", 1000, 3000)]
    [InlineData("127.0.0.1:6379, AsyncTimeout = 4000 ,syncTimeout=3000", 4000, 3000)]
    [InlineData("127.0.0.1:6379", 1000, 1000)]
    public void RedisConfiguration_OneTimeoutGiven_TheOtherKeepsItsDefault(string configuration, int async, int sync)
    {
        var options = RedisBouncerBuilderExtensions.ApplyDefaults(configuration, ConfigurationOptions.Parse(configuration));

        Assert.Equal(async, options.AsyncTimeout);
        Assert.Equal(sync, options.SyncTimeout);
        Assert.False(options.AbortOnConnectFail);
    }
}
