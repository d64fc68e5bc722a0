using Bouncer.Stores.Sqlite;
using Bouncer.Tokens;
using Microsoft.Extensions.DependencyInjection;

namespace Bouncer.Cli.Tests;

/// <summary><c>bouncer secrets encrypt</c> on a real SQLite file an older (plain-text) version left behind.</summary>
public sealed class SecretsCommandsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("bouncer-cli-secrets-").FullName;
    private readonly string _db;
    private readonly SigningKey _oldKey = SigningKey.Generate(JwsAlgorithm.ES256);

    public SecretsCommandsTests()
    {
        _db = Path.Combine(_folder, "bouncer.db");
        using var stores = SqliteBouncerStores.Open(_db);
        stores.Secrets.SetAsync("signing-keys", JwkSet.Create([_oldKey]).ToPrivateJson(), default).AsTask().GetAwaiter().GetResult();
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    // A server's start: the key set is read, and the refresh derivation key created beside it.
    private BouncerTokens Server()
    {
        var services = new ServiceCollection();
        services.AddBouncerCore(o => o.KeyEncryption.Key = Bouncer.Tests.TestKeyEncryption.Key).UseSqlite(_db);
        var provider = services.BuildServiceProvider();
        var tokens = provider.GetRequiredService<BouncerTokens>();
        provider.GetRequiredService<Bouncer.Refresh.RefreshTokenService>();
        return tokens;
    }

    [Fact]
    public async Task Encrypt_SealsAnOlderVersionsPlainKeySet_ThenTheServerStartsWithTheSameKeys()
    {
        Assert.Throws<InvalidOperationException>(Server);   // refused before: plain text

        var (code, output, error) = await Run("secrets", "encrypt", "--connection", _db);

        Assert.True(code == 0, error);
        Assert.Contains("encrypted signing-keys", output);
        using (var stores = SqliteBouncerStores.Open(_db))
            Assert.StartsWith("bouncer-enc:v1:", await stores.Secrets.GetAsync("signing-keys", default));
        // The older version's key survived the encryption: its tokens still verify.
        var token = new JwsIssuer(_oldKey, new IssueOptions { Issuer = "urn:bouncer", Audience = "bouncer" }).Issue(new TokenRequest { Subject = "alice" });
        Assert.True(Server().Verifier.Verify(token).IsValid);

        (code, output, _) = await Run("secrets", "encrypt", "--connection", _db);
        Assert.Equal(0, code);
        Assert.Contains("nothing to encrypt", output);
    }

    [Fact]
    public async Task Encrypt_APlainValueBesideSealedOnes_IsRefused_AndLeftAsItIs()
    {
        Assert.Equal(0, (await Run("secrets", "encrypt", "--connection", _db)).Code);
        Server();   // adds the sealed derivation key beside the sealed key set
        using (var stores = SqliteBouncerStores.Open(_db))
            await stores.Secrets.SetAsync("signing-keys", JwkSet.Create([SigningKey.Generate(JwsAlgorithm.HS256)]).ToPrivateJson(), default);

        var (code, _, error) = await Run("secrets", "encrypt", "--connection", _db);

        Assert.Equal(2, code);
        Assert.Contains("not written by Bouncer", error);
        using var after = SqliteBouncerStores.Open(_db);
        Assert.DoesNotContain("bouncer-enc:", await after.Secrets.GetAsync("signing-keys", default));
    }

    private static async Task<(int Code, string Output, string Error)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await Program.RunAsync(Program.BuildRoot(), args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
