using Bouncer.Tests;
using Bouncer.Tokens;
using Microsoft.Extensions.DependencyInjection;

namespace Bouncer.Cli.Tests;

/// <summary>
/// An explicit <c>--key-file</c> wins over the environment's <c>Bouncer__KeyEncryption__Key</c> (review finding 5): the
/// engine reads Key before KeyFile, so the environment key used to decrypt silently instead of the file the operator
/// named. The tests' environment always carries a key (TestEnvironment), which is exactly that situation.
/// </summary>
public sealed class KeyFileOptionTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("bouncer-cli-keyfile-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task KeyFileFlag_WithAnotherKeyInTheEnvironment_DecryptsWithTheNamedFile()
    {
        Assert.False(string.IsNullOrEmpty(Environment.GetEnvironmentVariable(TestKeyEncryption.Variable)));
        var db = Path.Combine(_folder, "bouncer.db");
        var keyFile = Path.Combine(_folder, "deployment.key");
        string signer;
        // A deployment whose secrets are encrypted with its own key file (created at its first start).
        var services = new ServiceCollection();
        services.AddBouncerCore(o => o.KeyEncryption.KeyFile = keyFile).UseSqlite(db);
        await using (var provider = services.BuildServiceProvider())
            signer = provider.GetRequiredService<BouncerTokens>().Keys.CurrentSigningKey.KeyId!;

        var output = new StringWriter();
        var error = new StringWriter();
        var code = await Program.RunAsync(Program.BuildRoot(), ["keys", "list", "--connection", db, "--key-file", keyFile], output, error);

        Assert.True(code == BouncerCli.Ok, error.ToString());
        Assert.Contains(signer, output.ToString());
    }
}
