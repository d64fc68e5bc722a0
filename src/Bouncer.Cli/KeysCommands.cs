using System.CommandLine;
using Bouncer.Tokens;

namespace Bouncer.Cli;

/// <summary><c>bouncer keys new</c> and <c>bouncer keys jwks</c>.</summary>
public static class KeysCommands
{
    /// <summary>The <c>keys</c> command and its subcommands.</summary>
    public static Command Build()
    {
        var keys = new Command("keys", "Generate keys and export public JWK sets");

        var alg = new Option<string>("--alg") { Description = "HS256, RS256, PS256, ES256 or EdDSA", Required = true };
        var kid = new Option<string?>("--kid") { Description = "Key id (random when omitted)" };
        var output = new Option<string>("--out") { Description = "Private JWK set file to create (mode 0600; never overwritten)", Required = true };
        var create = new Command("new", "Generate a key and write it as a private JWK set") { alg, kid, output };
        create.SetAction(parse =>
        {
            if (!JwsAlgorithms.TryParse(parse.GetValue(alg), out var algorithm))
                throw new CliUsageException($"--alg must be one of HS256, RS256, PS256, ES256, EdDSA");
            string path = parse.GetValue(output)!;
            var key = SigningKey.Generate(algorithm, parse.GetValue(kid));
            try
            {
                FileKeyStore.WritePrivateFileAsync(path, JwkSet.Create([key]).ToPrivateJson(), CancellationToken.None).GetAwaiter().GetResult();
            }
            catch (IOException ex)
            {
                throw new CliUsageException($"cannot write {path}: {ex.Message}", ex);
            }
            catch (UnauthorizedAccessException ex)
            {
                throw new CliUsageException($"cannot write {path}: {ex.Message}", ex);
            }
            parse.InvocationConfiguration.Output.WriteLine($"{algorithm.Name()} key '{key.KeyId}' written to {path}");
            return BouncerCli.Ok;
        });

        var file = new Argument<string>("file") { Description = "A JWK set file" };
        var jwks = new Command("jwks", "Print the public JWK set of a key file (public halves only; oct keys are never published)") { file };
        jwks.SetAction(parse =>
        {
            var set = LoadKeySet(parse.GetValue(file)!);
            if (set.Keys.Any(k => k.IsSymmetric))
                throw new CliUsageException("the file holds oct (HMAC) keys: they are secret and have no public JWK set");
            parse.InvocationConfiguration.Output.WriteLine(set.ToPublicJson());
            return BouncerCli.Ok;
        });

        keys.Add(create);
        keys.Add(jwks);
        return keys;
    }

    /// <summary>Reads and strictly loads a JWK set file; unreadable or unsafe files are usage errors.</summary>
    internal static JwkSet LoadKeySet(string path)
    {
        try
        {
            return JwkSet.Parse(ReadKeyFile(path));
        }
        catch (KeyLoadException ex)
        {
            throw new CliUsageException($"key file {path} refused ({ex.Reason}): {ex.Message}", ex);
        }
    }

    internal static string ReadKeyFile(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new CliUsageException($"cannot read key file {path}: {ex.Message}", ex);
        }
    }
}
