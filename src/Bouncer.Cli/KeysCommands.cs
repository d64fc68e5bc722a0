using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Bouncer.Tokens;

namespace Bouncer.Cli;

/// <summary>
/// <c>bouncer keys new|jwks</c> (key files) and <c>bouncer keys list|rotate|retire|revoke</c> (the deployment's signing
/// keys on its store, through the engine's <see cref="KeyManager"/>, so a change is saved by compare-and-set, announced
/// to running servers and audited like theirs). Exit codes: 0 done, 1 no such key or the change was refused, 2 bad
/// arguments or an unreachable store.
/// </summary>
/// <example>
/// <code>
/// bouncer keys list --connection data/bouncer.db
/// bouncer keys revoke Qx3Fv0aB1cD2eF3g --store redis --connection localhost:6379
/// </code>
/// </example>
public static class KeysCommands
{
    /// <summary>The <c>keys</c> command and its subcommands.</summary>
    public static Command Build()
    {
        var keys = new Command("keys", "Generate key files, export public JWK sets, and list, rotate, retire or revoke the deployment's signing keys");

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
        keys.Add(BuildList());
        keys.Add(BuildRotate());
        keys.Add(BuildRetire());
        keys.Add(BuildRevoke());
        return keys;
    }

    private static Command WithStore(string name, string description, out StoreOptions store)
    {
        store = new StoreOptions();
        return store.Group(name, description);
    }

    private static Command BuildList()
    {
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var list = WithStore("list", "List the signing keys: pending (published, not signing yet), signing, verifying (until its tokens expire).", out var store);
        list.Add(json);
        list.SetAction((parse, ct) => store.RunAsync(parse, async (bouncer, output) =>
        {
            var all = await bouncer.Get<KeyManager>().ListAsync(ct);
            if (parse.GetValue(json))
            {
                output.WriteLine(JsonSerializer.Serialize(all.Select(k => new
                {
                    kid = k.KeyId, alg = k.Algorithm, state = k.State.ToString().ToLowerInvariant(),
                    signs_from = k.SignsFrom, signs_until = k.SignsUntil, retires_at = k.RetiresAt,
                })));
                return BouncerCli.Ok;
            }
            foreach (var k in all)
                output.WriteLine($"{k.KeyId,-24}  {k.Algorithm,-6}  {k.State.ToString().ToLowerInvariant(),-9}  signs from {Time(k.SignsFrom)}"
                    + (k.RetiresAt is { } r ? $", retires at {Time(r)}" : ""));
            return BouncerCli.Ok;
        }));
        return list;
    }

    private static Command BuildRotate()
    {
        var alg = new Option<string?>("--alg") { Description = "The new key's algorithm (default: that of the key signing now)." };
        var delay = new Option<TimeSpan?>("--pre-publication") { Description = "How long the key is published before it signs (default: the deployment's Bouncer:KeyPrePublicationDelay from --config, appsettings.json or the environment, else 12 h)." };
        var rotate = WithStore("rotate", "Add a key now: published at once, signing after the pre-publication delay.", out var store);
        rotate.Add(alg);
        rotate.Add(delay);
        var settings = new DeploymentSettings();
        settings.AddTo(rotate);
        rotate.SetAction((parse, ct) => RunWithSettingsAsync(parse, store, settings, [], async (bouncer, output) =>
        {
            JwsAlgorithm? algorithm = null;
            if (parse.GetValue(alg) is { } name)
                algorithm = JwsAlgorithms.TryParse(name, out var parsed) ? parsed : throw new ArgumentException("--alg must be one of HS256, RS256, PS256, ES256, EdDSA");
            var keys = bouncer.Get<KeyManager>();
            var key = await keys.RotateAsync("cli", algorithm ?? keys.Keys.CurrentSigningKey.Algorithm, ct);
            output.WriteLine($"added {key.KeyId} ({key.Algorithm}), signs from {Time(key.SignsFrom)}");
            return BouncerCli.Ok;
        }, (DeploymentSettings.KeyPrePublicationDelay, parse.GetValue(delay))));
        return rotate;
    }

    private static Command BuildRetire()
    {
        var kid = new Argument<string?>("kid") { Description = "The key to drop (omitted: every key past its retirement).", Arity = ArgumentArity.ZeroOrOne };
        var retire = WithStore("retire", "Drop keys that vouch for no live token: past retirement, or never signed. A compromised key is revoked instead.", out var store);
        retire.Add(kid);
        var settings = new DeploymentSettings();
        settings.AddTo(retire);
        // Whether a key's tokens are still live depends on the server's token lifetimes: never guessed from defaults.
        string[] required = [DeploymentSettings.AccessTokenLifetime, DeploymentSettings.ExchangeTokenLifetime];
        retire.SetAction((parse, ct) => RunWithSettingsAsync(parse, store, settings, required, async (bouncer, output) =>
        {
            var keys = bouncer.Get<KeyManager>();
            if (parse.GetValue(kid) is not { } one)
            {
                var retired = await keys.RetireDueAsync("cli", ct);
                output.WriteLine(retired.Count == 0 ? "no key is due for retirement" : $"retired {string.Join(", ", retired)}");
                return BouncerCli.Ok;
            }
            var (outcome, retirableAt) = await keys.RetireAsync(one, "cli", ct);
            var error = parse.InvocationConfiguration.Error;
            switch (outcome)
            {
                case KeyOutcome.Done:
                    output.WriteLine($"retired {one}");
                    return BouncerCli.Ok;
                case KeyOutcome.Signing:
                    error.WriteLine("error: that key signs now; rotate first (or revoke it if it is compromised)");
                    return BouncerCli.Refused;
                case KeyOutcome.TokensLive:
                    error.WriteLine($"error: tokens that key signed may be live until {Time(retirableAt!.Value)}; it retires by itself then (revoke it if it is compromised)");
                    return BouncerCli.Refused;
                default:
                    return NoSuchKey(parse);
            }
        }));
        return retire;
    }

    private static Command BuildRevoke()
    {
        var kid = new Argument<string>("kid") { Description = "The compromised key's kid." };
        var revoke = WithStore("revoke", "Key compromise: remove the key at once, sign with a fresh key, and announce it so every server and verifier refuses its tokens.", out var store);
        revoke.Add(kid);
        var settings = new DeploymentSettings();
        settings.AddTo(revoke);
        revoke.SetAction((parse, ct) => RunWithSettingsAsync(parse, store, settings, [], async (bouncer, output) =>
        {
            var keys = bouncer.Get<KeyManager>();
            var (outcome, _) = await keys.RevokeAsync(parse.GetValue(kid)!, "cli_revoke", ct);
            if (outcome != KeyOutcome.Done)
            {
                parse.InvocationConfiguration.Error.WriteLine("error: no key with that kid in the ring (announced as revoked anyway)");
                return BouncerCli.Refused;
            }
            output.WriteLine($"revoked {parse.GetValue(kid)}; signing with {keys.Keys.CurrentSigningKey.KeyId}");
            return BouncerCli.Ok;
        }));
        return revoke;
    }

    /// <summary>
    /// Runs a key-lifecycle command on the deployment's settings: refuses (exit 2, one line naming them) when a setting
    /// in <paramref name="required"/> is given by no file, environment variable or flag, prints the lifetimes it decides
    /// with, then runs <paramref name="body"/> on an engine configured with them.
    /// </summary>
    private static Task<int> RunWithSettingsAsync(ParseResult parse, StoreOptions store, DeploymentSettings settings, string[] required,
        Func<BouncerConnection, TextWriter, Task<int>> body, params (string Key, TimeSpan? Value)[] moreFlags)
    {
        var error = parse.InvocationConfiguration.Error;
        Microsoft.Extensions.Configuration.IConfigurationRoot configuration;
        var options = new BouncerEngineOptions();
        try
        {
            configuration = settings.Load(parse, moreFlags);
            Bind(configuration, options);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or IOException or FormatException)
        {
            error.WriteLine("error: " + StoreOptions.OneLine(ex.Message));
            return Task.FromResult(BouncerCli.UsageError);
        }
        var missing = DeploymentSettings.Missing(configuration, required);
        if (missing.Count > 0)
        {
            error.WriteLine($"error: this decision depends on the server's settings, and {string.Join(", ", missing)} {(missing.Count == 1 ? "is" : "are")} not given: "
                + "pass --access-token-lifetime/--exchange-token-lifetime, set them in the environment (Bouncer__Refresh__AccessTokenLifetime, "
                + "Bouncer__ExchangeTokenLifetime) or name the server's settings file with --config");
            return Task.FromResult(BouncerCli.UsageError);
        }
        parse.InvocationConfiguration.Output.WriteLine(DeploymentSettings.Describe(configuration, options));
        return store.RunAsync(parse, body, o => Bind(configuration, o));
    }

    // As the server binds its Bouncer section; the CLI keeps no near cache whatever the file says.
    private static void Bind(Microsoft.Extensions.Configuration.IConfiguration configuration, BouncerEngineOptions options)
    {
        Microsoft.Extensions.Configuration.ConfigurationBinder.Bind(configuration.GetSection("Bouncer"), options);
        options.NearCache = null;
    }

    private static int NoSuchKey(ParseResult parse)
    {
        parse.InvocationConfiguration.Error.WriteLine("error: no key with that kid in the ring");
        return BouncerCli.Refused;
    }

    private static string Time(DateTimeOffset at) => at.ToString("u", CultureInfo.InvariantCulture);

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
