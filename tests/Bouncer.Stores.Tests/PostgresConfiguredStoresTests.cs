using Bouncer.Sessions;
using Microsoft.Extensions.DependencyInjection;

namespace Bouncer.Stores.Tests;

/// <summary><c>UsePostgres(configuration)</c> against a real PostgreSQL named by <c>ConnectionStrings:Bouncer</c>.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresConfiguredStoresTests(PostgresServer server) : IDisposable
{
    private readonly string _schema = "bouncer_test_" + Guid.NewGuid().ToString("N");

    public void Dispose()
    {
        using var cmd = server.DataSource.CreateCommand($"DROP SCHEMA IF EXISTS \"{_schema}\" CASCADE");
        cmd.ExecuteNonQuery();
    }

    [Fact]
    public async Task UsePostgres_FromConnectionStrings_SessionsLandInThatDatabaseAndSchema()
    {
        var configuration = ConfiguredStoresTests.Configuration(("ConnectionStrings:Bouncer", server.ConnectionString));
        var builder = new ServiceCollection().AddBouncerCore().UsePostgres(configuration, schema: _schema);
        await using (var provider = builder.Services.BuildServiceProvider())
            await provider.GetRequiredService<SessionManager>().CreateAsync("alice", default);

        await using var cmd = server.DataSource.CreateCommand($"SELECT count(*) FROM \"{_schema}\".bouncer_sessions");
        Assert.Equal(1L, await cmd.ExecuteScalarAsync());
    }
}
