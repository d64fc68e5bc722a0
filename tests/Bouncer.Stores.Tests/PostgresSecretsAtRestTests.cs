using Bouncer.Tokens;
using Microsoft.Extensions.DependencyInjection;

namespace Bouncer.Stores.Tests;

/// <summary>Secrets at rest on a real PostgreSQL; each test has its own schema.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresSecretsAtRestTests(PostgresServer server) : SecretsAtRestContract
{
    private readonly string _schema = $"sr{Guid.NewGuid():N}"[..30];

    protected override void UseStore(BouncerBuilder builder) => builder.UsePostgres(server.DataSource, _schema);

    [Fact]
    public async Task WithoutAKey_ANetworkedStoreRefusesToStartOutsideDevelopment_InOneLineNamingTheSetting()
    {
        await using var engine = Engine(key: null);
        var error = Assert.Throws<InvalidOperationException>(() => engine.GetRequiredService<BouncerTokens>());
        Assert.Contains("Bouncer:KeyEncryption:KeyFile", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Null(await Raw(engine).GetAsync("signing-keys", default));
    }
}
