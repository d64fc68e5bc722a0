using Bouncer.Tokens;
using Microsoft.Extensions.DependencyInjection;

namespace Bouncer.Stores.Tests;

/// <summary>Secrets at rest on a real redis-server; each test has its own key prefix.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisSecretsAtRestTests(RedisServer server) : SecretsAtRestContract
{
    private readonly string _prefix = $"sr:{Guid.NewGuid():N}:";

    protected override void UseStore(BouncerBuilder builder) => builder.UseRedis(server.Connection, _prefix);

    [Fact]
    public async Task WithoutAKey_ANetworkedStoreRefusesToStartOutsideDevelopment_InOneLineNamingTheSetting()
    {
        await using var engine = Engine(key: null);
        var error = Assert.Throws<InvalidOperationException>(() => engine.GetRequiredService<BouncerTokens>());
        Assert.Contains("Bouncer:KeyEncryption:KeyFile", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        // Nothing was written in plain text on the way.
        Assert.Null(await Raw(engine).GetAsync("signing-keys", default));
    }
}
