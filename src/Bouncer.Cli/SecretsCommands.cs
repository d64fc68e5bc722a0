using System.CommandLine;
using Bouncer.Secrets;

namespace Bouncer.Cli;

/// <summary>
/// <c>bouncer secrets encrypt</c>: encrypts once, in place, the secrets an older Bouncer stored in plain text, with the
/// key the deployment's instances use (<c>--key-file</c> or <c>Bouncer__KeyEncryption__*</c>). A server refuses plain
/// secrets rather than encrypting them itself, since someone who can write to the store could have planted them.
/// Exit codes: 0 done (or nothing to do), 2 bad arguments, an unreachable store, no key, or a plain value beside sealed ones.
/// </summary>
public static class SecretsCommands
{
    /// <summary>Builds the <c>secrets</c> command.</summary>
    public static Command Build()
    {
        var store = new StoreOptions();
        var secrets = store.Group("secrets", "The deployment's secrets at rest (signing keys, derivation and feed keys).");
        var encrypt = new Command("encrypt", "Encrypt in place the secrets an older version stored in plain text (run once, after checking they are yours).");
        encrypt.SetAction((parse, ct) => store.RunAsync(parse, async (bouncer, output) =>
        {
            var atRest = bouncer.Get<SecretsAtRest>();
            var encrypted = await atRest.EncryptPlainSecretsAsync(ct);
            output.WriteLine(encrypted.Count == 0
                ? $"nothing to encrypt: every stored secret is sealed ({atRest.Protector})"
                : $"encrypted {string.Join(", ", encrypted)} with {atRest.Protector}");
            return BouncerCli.Ok;
        }));
        secrets.Add(encrypt);
        return secrets;
    }
}
