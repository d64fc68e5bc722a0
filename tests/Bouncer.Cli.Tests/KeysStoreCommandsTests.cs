using System.Text.Json;
using Bouncer.Tokens;
using Microsoft.Extensions.DependencyInjection;

namespace Bouncer.Cli.Tests;

/// <summary><c>bouncer keys list|rotate|retire|revoke</c> in-process against a real SQLite file a deployment created.</summary>
public sealed class KeysStoreCommandsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("bouncer-cli-keys-").FullName;
    private readonly string _db;

    public KeysStoreCommandsTests()
    {
        _db = Path.Combine(_folder, "bouncer.db");
        // The deployment's first start: the ring is created in the store.
        var services = new ServiceCollection();
        // With the key the CLI reads from the environment (TestEnvironment), as an operator's server and CLI share one.
        services.AddBouncerCore(o => o.KeyEncryption.Key = Bouncer.Tests.TestKeyEncryption.Key).UseSqlite(_db);
        using var provider = services.BuildServiceProvider();
        provider.GetRequiredService<BouncerTokens>();
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private async Task<List<JsonElement>> ListAsync()
    {
        var (code, output, error) = await Run("keys", "list", "--json", "--connection", _db);
        Assert.True(code == 0, error);
        return [.. JsonDocument.Parse(output).RootElement.EnumerateArray()];
    }

    [Fact]
    public async Task RotateRetireRevoke_ChangeTheStoredRing()
    {
        var first = Assert.Single(await ListAsync());
        var signer = first.GetProperty("kid").GetString()!;
        Assert.Equal("signing", first.GetProperty("state").GetString());

        var (code, output, error) = await Run("keys", "rotate", "--connection", _db);
        Assert.True(code == 0, error);
        var listed = await ListAsync();
        Assert.Equal(2, listed.Count);
        var pending = listed.Single(k => k.GetProperty("state").GetString() == "pending").GetProperty("kid").GetString()!;
        Assert.Contains(pending, output);
        Assert.Equal("RS256", listed[1].GetProperty("alg").GetString());

        // The signer cannot be retired; a pending key can (it never signed).
        (code, _, error) = await Run("keys", "retire", signer, "--connection", _db, "--access-token-lifetime", "00:10:00", "--exchange-token-lifetime", "00:02:00");
        Assert.Equal(1, code);
        Assert.Contains("signs now", error);
        (code, _, _) = await Run("keys", "retire", pending, "--connection", _db, "--access-token-lifetime", "00:10:00", "--exchange-token-lifetime", "00:02:00");
        Assert.Equal(0, code);
        Assert.Single(await ListAsync());

        // Revoking the only signing key leaves a fresh signer in the store.
        (code, output, error) = await Run("keys", "revoke", signer, "--connection", _db);
        Assert.True(code == 0, error);
        var after = Assert.Single(await ListAsync());
        Assert.NotEqual(signer, after.GetProperty("kid").GetString());
        Assert.Equal("signing", after.GetProperty("state").GetString());
        Assert.Contains(after.GetProperty("kid").GetString()!, output);

        (code, _, _) = await Run("keys", "revoke", signer, "--connection", _db);
        Assert.Equal(1, code);
        (code, _, error) = await Run("keys", "revoke", "bad kid!", "--connection", _db);
        Assert.Equal(2, code);
    }

    [Fact]
    public async Task FeedKey_PrintsTheKeyTheDeploymentsFeedAsksFor()
    {
        var (code, output, error) = await Run("feed", "key", "--connection", _db);
        Assert.True(code == 0, error);
        var printed = output.Trim();
        Assert.Equal(43, printed.Length);   // 32 random bytes, base64url

        // The server on the same store asks for exactly this key.
        var services = new ServiceCollection();
        services.AddBouncerCore(o => o.KeyEncryption.Key = Bouncer.Tests.TestKeyEncryption.Key).UseSqlite(_db);
        await using var provider = services.BuildServiceProvider();
        Assert.Equal(printed, provider.GetRequiredService<Bouncer.Revocation.RevocationFeedKey>().Value);
        (code, output, _) = await Run("feed", "key", "--connection", _db);
        Assert.Equal(printed, output.Trim());
    }

    private static async Task<(int Code, string Output, string Error)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await Program.RunAsync(Program.BuildRoot(), args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
