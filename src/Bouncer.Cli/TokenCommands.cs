using System.Buffers.Text;
using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Bouncer.Tokens;

namespace Bouncer.Cli;

/// <summary><c>bouncer token issue</c>, <c>decode</c> and <c>verify</c>.</summary>
public static class TokenCommands
{
    private static readonly TimeSpan CliMaxLifetime = TimeSpan.FromHours(24);

    /// <summary>The <c>token</c> command and its subcommands.</summary>
    public static Command Build()
    {
        var token = new Command("token", "Issue, decode and verify access tokens");
        token.Add(BuildIssue());
        token.Add(BuildDecode());
        token.Add(BuildVerify());
        return token;
    }

    private static Command BuildIssue()
    {
        var keys = new Option<string>("--keys") { Description = "Private JWK set file", Required = true };
        var iss = new Option<string>("--iss") { Description = "Issuer", Required = true };
        var aud = new Option<string>("--aud") { Description = "Audience", Required = true };
        var sub = new Option<string>("--sub") { Description = "Subject", Required = true };
        var ttl = new Option<string>("--ttl") { Description = "Lifetime: 90s, 10m, 1h (default 10m, at most 24h)", DefaultValueFactory = _ => "10m" };
        var kid = new Option<string?>("--kid") { Description = "Key to sign with (default: the only key, or the current key of a key ring file)" };
        var sid = new Option<string?>("--sid") { Description = "Session id claim" };
        var roles = new Option<string[]>("--role") { Description = "A role (repeatable)", AllowMultipleArgumentsPerToken = false };
        var scope = new Option<string?>("--scope") { Description = "Space-separated scopes" };
        var command = new Command("issue", "Issue a signed at+jwt access token") { keys, iss, aud, sub, ttl, kid, sid, roles, scope };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(keys)!;
            var set = KeysCommands.LoadKeySet(path);
            string? wanted = parse.GetValue(kid);
            var key = wanted is not null
                ? set.Keys.FirstOrDefault(k => k.KeyId == wanted) ?? throw new CliUsageException($"no key with kid '{wanted}' in the key file")
                : set.Keys.Count == 1 ? set.Keys[0] : CurrentRingKey(path);
            if (!key.CanSign) throw new CliUsageException($"key '{key.KeyId}' is public only: it cannot sign");
            var lifetime = ParseDuration(parse.GetValue(ttl)!, "--ttl");
            if (lifetime <= TimeSpan.Zero || lifetime > CliMaxLifetime)
                throw new CliUsageException("--ttl must be positive and at most 24h");
            var issuer = new JwsIssuer(key, new IssueOptions
            {
                Issuer = parse.GetValue(iss)!, Audience = parse.GetValue(aud)!, DefaultLifetime = lifetime, MaxLifetime = CliMaxLifetime,
            });
            parse.InvocationConfiguration.Output.WriteLine(issuer.Issue(new TokenRequest
            {
                Subject = parse.GetValue(sub)!, SessionId = parse.GetValue(sid), Roles = parse.GetValue(roles), Scope = parse.GetValue(scope),
            }));
            return BouncerCli.Ok;
        });
        return command;
    }

    private static Command BuildDecode()
    {
        var tokenArgument = new Argument<string>("token") { Description = "A compact JWS" };
        var command = new Command("decode", "Print a token's header and payload WITHOUT verifying anything") { tokenArgument };
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var parts = parse.GetValue(tokenArgument)!.Split('.');
            if (parts.Length != 3 || !TryDecodeJson(parts[0], out var header) || !TryDecodeJson(parts[1], out var payload))
            {
                output.WriteLine(VerifyFailure.Malformed.ToCode());
                return BouncerCli.Refused;
            }
            output.WriteLine("UNVERIFIED header (the signature was not checked):");
            output.WriteLine(header);
            output.WriteLine("UNVERIFIED payload (the signature was not checked):");
            output.WriteLine(payload);
            return BouncerCli.Ok;
        });
        return command;
    }

    private static Command BuildVerify()
    {
        var keys = new Option<string>("--keys") { Description = "JWK set file (oct/RSA/EC/OKP keys, each with alg)", Required = true };
        var iss = new Option<string>("--iss") { Description = "Required issuer", Required = true };
        var aud = new Option<string>("--aud") { Description = "Required audience", Required = true };
        var skew = new Option<string>("--skew") { Description = "Clock skew (default 30s)", DefaultValueFactory = _ => "30s" };
        var maxBytes = new Option<int>("--max-bytes") { Description = "Token size cap (default 8192)", DefaultValueFactory = _ => 8192 };
        var allowMissingTyp = new Option<bool>("--allow-missing-typ") { Description = "Accept tokens without typ (a wrong typ is still refused)" };
        var stdin = new Option<bool>("--stdin") { Description = "Read one token per line; write one JSON object per line" };
        var tokenArgument = new Argument<string?>("token") { Description = "The token (or use --stdin)", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("verify", "Verify tokens: exit 0 valid, 1 refused (reason code printed), 2 usage error")
            { keys, iss, aud, skew, maxBytes, allowMissingTyp, stdin, tokenArgument };
        command.SetAction(parse =>
        {
            string? single = parse.GetValue(tokenArgument);
            bool fromStdin = parse.GetValue(stdin);
            if (fromStdin == (single is not null))
                throw new CliUsageException("give either a token or --stdin");
            var skewValue = ParseDuration(parse.GetValue(skew)!, "--skew");
            var set = KeysCommands.LoadKeySet(parse.GetValue(keys)!);
            JwsVerifier verifier;
            try
            {
                verifier = new JwsVerifier(set, new VerifyOptions
                {
                    Issuer = parse.GetValue(iss)!, Audience = parse.GetValue(aud)!, ClockSkew = skewValue,
                    MaxTokenBytes = parse.GetValue(maxBytes), RequireTyp = !parse.GetValue(allowMissingTyp),
                });
            }
            catch (ArgumentException ex)
            {
                throw new CliUsageException(ex.Message, ex);
            }
            var output = parse.InvocationConfiguration.Output;
            if (!fromStdin)
            {
                var result = verifier.Verify(single!);
                if (!result.IsValid)
                {
                    output.WriteLine(result.Failure.ToCode());
                    return BouncerCli.Refused;
                }
                output.WriteLine(result.GetPayloadJson());
                return BouncerCli.Ok;
            }
            var input = BouncerCli.Input;
            while (input.ReadLine() is { } line)
            {
                var result = verifier.Verify(line.TrimEnd('\r'));
                output.WriteLine(result.IsValid
                    ? $"{{\"valid\":true,\"kid\":{JsonSerializer.Serialize(result.Key!.KeyId)},\"claims\":{CompactJson(result.GetPayloadJson())}}}"
                    : $"{{\"valid\":false,\"reason\":\"{result.Failure.ToCode()}\"}}");
            }
            return BouncerCli.Ok;
        });
        return command;
    }

    // A file of several keys is read as a key ring: the key whose pre-publication delay has passed signs.
    private static SigningKey CurrentRingKey(string path)
    {
        try
        {
            var ring = KeyRing.LoadOrCreateAsync(new ReadOnlyKeyStore(KeysCommands.ReadKeyFile(path)), new KeyRingOptions())
                .GetAwaiter().GetResult();
            return ring.CurrentSigningKey;
        }
        catch (KeyLoadException ex)
        {
            throw new CliUsageException($"key file {path} has several keys but is not a key ring ({ex.Reason}); pick one with --kid", ex);
        }
    }

    private sealed class ReadOnlyKeyStore(string content) : IKeyStore
    {
        public ValueTask<string?> LoadAsync(CancellationToken cancellationToken) => ValueTask.FromResult<string?>(content);

        public ValueTask SaveAsync(string privateJwkSet, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("the CLI never rewrites a key file while issuing");
    }

    /// <summary>Parses 90s, 10m, 1h, 2d or a plain number of seconds.</summary>
    internal static TimeSpan ParseDuration(string text, string option)
    {
        if (text.Length > 0)
        {
            char unit = text[^1];
            string number = char.IsDigit(unit) ? text : text[..^1];
            if (long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out long value) && value <= 1_000_000)
            {
                switch (char.IsDigit(unit) ? 's' : unit)
                {
                    case 's': return TimeSpan.FromSeconds(value);
                    case 'm': return TimeSpan.FromMinutes(value);
                    case 'h': return TimeSpan.FromHours(value);
                    case 'd': return TimeSpan.FromDays(value);
                }
            }
        }
        throw new CliUsageException($"{option}: '{text}' is not a duration like 30s, 10m or 1h");
    }

    // One object per line: the payload as signed may be pretty-printed, so its claims are written again compactly.
    // The relaxed encoder keeps text readable but still escapes control characters and U+2028/U+2029.
    private static string CompactJson(string json)
    {
        using var document = JsonDocument.Parse(json);
        return JsonSerializer.Serialize(document.RootElement, CompactOptions);
    }

    private static readonly JsonSerializerOptions CompactOptions = new()
    {
        WriteIndented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static bool TryDecodeJson(string segment, out string pretty)
    {
        pretty = "";
        try
        {
            var bytes = Base64Url.DecodeFromChars(segment);
            using var document = JsonDocument.Parse(bytes);
            pretty = JsonSerializer.Serialize(document.RootElement, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            return true;
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            return false;
        }
    }
}
