using Bouncer.Tokens;
using Microsoft.Extensions.DependencyInjection;

namespace Bouncer.Stores.Tests;

/// <summary>Secrets at rest on SQLite: encrypted, by default with a key file created beside the database.</summary>
public sealed class SqliteSecretsAtRestTests : SecretsAtRestContract, IDisposable
{
    private readonly SqliteTempFolder _folder = new();
    private readonly string _path;

    public SqliteSecretsAtRestTests() => _path = _folder.NewPath();

    protected override void UseStore(BouncerBuilder builder) => builder.UseSqlite(_path);

    [Fact]
    public async Task WithoutASetting_TheKeyFileIsCreatedBesideTheDatabase_OwnerOnly_AndTheDatabaseHoldsNoKey()
    {
        await using var engine = Engine(key: null);
        var token = Mint(engine);

        var keyFile = Path.ChangeExtension(_path, ".key");
        Assert.True(File.Exists(keyFile));
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        var stored = (string)SqliteTempFolder.Scalar(_path, "SELECT value FROM bouncer_secrets WHERE name = 'signing-keys'")!;
        Assert.StartsWith("bouncer-enc:v1:", stored);

        // The same database with the same key file beside it is the same deployment.
        await using var again = Engine(key: null);
        Assert.True(again.GetRequiredService<BouncerTokens>().Verifier.Verify(token).IsValid);
    }

    [Fact]
    public async Task WithoutItsKeyFile_ACopyOfTheDatabaseCannotBeOpenedForItsSecrets()
    {
        await using (var engine = Engine(key: null)) Mint(engine);
        File.Delete(Path.ChangeExtension(_path, ".key"));   // the database copied without the key file

        await using var thief = Engine(key: null);
        var error = Assert.Throws<InvalidOperationException>(() => thief.GetRequiredService<BouncerTokens>());
        Assert.Contains("cannot decrypt", error.Message);
    }

    public void Dispose() => _folder.Dispose();
}
