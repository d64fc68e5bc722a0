using Bouncer.Tests;
using Bouncer.Tokens;
using Microsoft.Extensions.DependencyInjection;

namespace Bouncer.Cli.Tests;

/// <summary>
/// <c>bouncer keys retire|rotate</c> decide with the deployment's settings (settings file, environment, flags), not the
/// CLI's defaults (review finding 3): on a deployment whose access tokens live 1 h, a key that stopped signing 20 minutes
/// ago still vouches for live tokens, although with the default 10 minutes it would not.
/// </summary>
public sealed class KeysDeploymentSettingsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("bouncer-cli-keyset-").FullName;
    private readonly string _db;
    private readonly string _oldKid;

    public KeysDeploymentSettingsTests()
    {
        _db = Path.Combine(_folder, "bouncer.db");
        // The deployment's first start 2 h ago, then a rotation whose key has signed since 20 minutes ago.
        var clock = new ManualClock(DateTimeOffset.UtcNow - TimeSpan.FromHours(2));
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(clock);
        services.AddBouncerCore(o =>
        {
            o.KeyEncryption.Key = TestKeyEncryption.Key;
            o.Refresh.AccessTokenLifetime = TimeSpan.FromHours(1);
            o.KeyPrePublicationDelay = TimeSpan.FromMinutes(100);
        }).UseSqlite(_db);
        using var provider = services.BuildServiceProvider();
        var manager = provider.GetRequiredService<KeyManager>();
        _oldKid = manager.Keys.CurrentSigningKey.KeyId!;
        manager.RotateAsync("test", null, default).GetAwaiter().GetResult();
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Retire_DeploymentWithHourLongTokensByFlag_RefusesTheKeyWhoseTokensAreLive()
    {
        var (code, output, error) = await Run("keys", "retire", _oldKid, "--connection", _db, "--access-token-lifetime", "01:00:00", "--exchange-token-lifetime", "00:02:00");

        Assert.Equal(BouncerCli.Refused, code);
        Assert.Contains("may be live until", error);
        Assert.Contains("using access-token lifetime 01:00:00 (Bouncer:Refresh:AccessTokenLifetime 01:00:00 from flag", output);
        Assert.Equal(2, await KeyCountAsync());
    }

    [Fact]
    public async Task Retire_DeploymentSettingsFile_IsReadLikeTheServersAndNamedInTheOutput()
    {
        var file = Path.Combine(_folder, "appsettings.json");
        await File.WriteAllTextAsync(file, """{ "Bouncer": { "Refresh": { "AccessTokenLifetime": "01:00:00" }, "ExchangeTokenLifetime": "00:02:00" } }""");

        var (code, output, error) = await Run("keys", "retire", _oldKid, "--connection", _db, "--config", file);

        Assert.Equal(BouncerCli.Refused, code);
        Assert.Contains("may be live until", error);
        Assert.Contains("Bouncer:Refresh:AccessTokenLifetime 01:00:00 from appsettings.json", output);
        Assert.Equal(2, await KeyCountAsync());
    }

    [Fact]
    public async Task Retire_LifetimesNotGiven_IsRefusedInOneLineNamingThem()
    {
        var (code, _, error) = await Run("keys", "retire", _oldKid, "--connection", _db);

        Assert.Equal(BouncerCli.UsageError, code);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(DeploymentSettingsNames.AccessTokenLifetime, error);
        Assert.Contains(DeploymentSettingsNames.ExchangeTokenLifetime, error);
        Assert.Equal(2, await KeyCountAsync());
    }

    [Fact]
    public async Task Retire_DeploymentWithTenMinuteTokens_DropsTheKey()
    {
        // The same key on a deployment whose tokens live 10 minutes: they all expired 10 minutes ago.
        var (code, output, error) = await Run("keys", "retire", _oldKid, "--connection", _db, "--access-token-lifetime", "00:10:00", "--exchange-token-lifetime", "00:02:00");

        Assert.True(code == BouncerCli.Ok, error);
        Assert.Contains("retired " + _oldKid, output);
        Assert.Equal(1, await KeyCountAsync());
    }

    [Fact]
    public async Task Rotate_PrintsThePrePublicationDelayItUsed()
    {
        var (code, output, error) = await Run("keys", "rotate", "--connection", _db, "--pre-publication", "01:00:00");

        Assert.True(code == BouncerCli.Ok, error);
        Assert.Contains("key pre-publication delay 01:00:00 (Bouncer:KeyPrePublicationDelay from flag)", output);
    }

    // The stored ring, read by an engine configured as the deployment is (the CLI's own list would hide the old key).
    private async Task<int> KeyCountAsync()
    {
        var services = new ServiceCollection();
        services.AddBouncerCore(o =>
        {
            o.KeyEncryption.Key = TestKeyEncryption.Key;
            o.Refresh.AccessTokenLifetime = TimeSpan.FromHours(1);
        }).UseSqlite(_db);
        await using var provider = services.BuildServiceProvider();
        return (await provider.GetRequiredService<KeyManager>().ListAsync(default)).Count;
    }

    private static async Task<(int Code, string Output, string Error)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await Program.RunAsync(Program.BuildRoot(), args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    // The setting names as an operator types them (DeploymentSettings is internal to the CLI).
    private static class DeploymentSettingsNames
    {
        public const string AccessTokenLifetime = "Bouncer:Refresh:AccessTokenLifetime";
        public const string ExchangeTokenLifetime = "Bouncer:ExchangeTokenLifetime";
    }
}
