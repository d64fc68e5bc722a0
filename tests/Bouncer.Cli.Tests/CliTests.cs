using System.Text.Json.Nodes;
using Bouncer.Cli;
using Bouncer.Tokens;

namespace Bouncer.Tests.Cli;

/// <summary>Runs <c>bouncer</c> in-process through the same entry point as Program.cs and checks exit codes and output.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bouncer-cli").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static (int Code, string Out, string Err) RunWithInput(string stdin, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = BouncerCli.Run(args, new StringReader(stdin), output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static (int Code, string Out, string Err) Run(params string[] args) => RunWithInput("", args);

    private string NewKeys(string alg = "ES256", string name = "keys.json")
    {
        string path = PathOf(name);
        Assert.Equal(0, Run("keys", "new", "--alg", alg, "--kid", "k-" + alg, "--out", path).Code);
        return path;
    }

    private string Issue(string keys, params string[] extra) =>
        Run(["token", "issue", "--keys", keys, "--iss", "I", "--aud", "A", "--sub", "S", .. extra]).Out.Trim();

    [Theory]
    [InlineData("HS256")]
    [InlineData("RS256")]
    [InlineData("PS256")]
    [InlineData("ES256")]
    [InlineData("EdDSA")]
    public void KeysNew_ThenIssueAndVerify_ExitsZeroWithClaims(string alg)
    {
        string keys = NewKeys(alg);
        string token = Issue(keys, "--sid", "sess-1", "--role", "admin");
        var (code, output, _) = Run("token", "verify", "--keys", keys, "--iss", "I", "--aud", "A", token);
        Assert.Equal(0, code);
        var claims = JsonNode.Parse(output)!;
        Assert.Equal("S", (string)claims["sub"]!);
        Assert.Equal("sess-1", (string)claims["sid"]!);
        Assert.Equal("admin", (string)claims["roles"]![0]!);
    }

    [Fact]
    public void KeysNew_File_IsOwnerOnlyAndNotOverwritten()
    {
        string keys = NewKeys();
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keys));
        var (code, _, err) = Run("keys", "new", "--alg", "ES256", "--out", keys);
        Assert.Equal(2, code);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void KeysNew_UnknownAlg_IsUsageError()
    {
        var (code, _, err) = Run("keys", "new", "--alg", "none", "--out", PathOf("x.json"));
        Assert.Equal(2, code);
        Assert.StartsWith("error:", err);
        Assert.False(File.Exists(PathOf("x.json")));
    }

    [Fact]
    public void KeysJwks_AsymmetricKey_PrintsPublicHalfOnly()
    {
        var (code, output, _) = Run("keys", "jwks", NewKeys("EdDSA"));
        Assert.Equal(0, code);
        var key = JsonNode.Parse(output)!["keys"]![0]!.AsObject();
        Assert.Equal("OKP", (string)key["kty"]!);
        Assert.False(key.ContainsKey("d"));
    }

    [Fact]
    public void KeysJwks_OctKey_IsRefused()
    {
        var (code, output, err) = Run("keys", "jwks", NewKeys("HS256"));
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("oct", err);
    }

    [Fact]
    public void TokenVerify_WrongAudience_ExitsOneWithReasonCode()
    {
        string keys = NewKeys();
        var (code, output, _) = Run("token", "verify", "--keys", keys, "--iss", "I", "--aud", "other", Issue(keys));
        Assert.Equal(1, code);
        Assert.Equal("bad_audience", output.Trim());
    }

    [Fact]
    public void TokenVerify_TamperedToken_ExitsOneBadSignature()
    {
        string keys = NewKeys();
        var parts = Issue(keys).Split('.');
        string forged = parts[0] + "." + System.Buffers.Text.Base64Url.EncodeToString("""{"iss":"I","aud":"A","sub":"root","exp":99999999999}"""u8) + "." + parts[2];
        var (code, output, _) = Run("token", "verify", "--keys", keys, "--iss", "I", "--aud", "A", forged);
        Assert.Equal(1, code);
        Assert.Equal("bad_signature", output.Trim());
    }

    [Fact]
    public void TokenVerify_MaxBytes_IsHonoured()
    {
        string keys = NewKeys();
        var (code, output, _) = Run("token", "verify", "--keys", keys, "--iss", "I", "--aud", "A", "--max-bytes", "100", Issue(keys));
        Assert.Equal(1, code);
        Assert.Equal("too_large", output.Trim());
    }

    [Fact]
    public void TokenVerify_Stdin_OneJsonLinePerToken()
    {
        string keys = NewKeys();
        string good = Issue(keys);
        var (code, output, _) = RunWithInput($"{good}\nnot-a-token\n{good}\r\n", "token", "verify", "--keys", keys, "--iss", "I", "--aud", "A", "--stdin");
        Assert.Equal(0, code);
        var lines = output.Trim().Split('\n').Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(3, lines.Count);
        Assert.True((bool)lines[0]["valid"]!);
        Assert.Equal("S", (string)lines[0]["claims"]!["sub"]!);
        Assert.False((bool)lines[1]["valid"]!);
        Assert.Equal("malformed", (string)lines[1]["reason"]!);
        Assert.True((bool)lines[2]["valid"]!);
    }

    [Fact]
    public void TokenVerify_StdinPrettyPrintedPayload_StillOneJsonLinePerToken()
    {
        // An outside signer may pretty-print its claims: newlines (and U+2028/U+2029, line breaks to some readers)
        // between and inside members. Each token still gives exactly one line of JSON with the same claims.
        string keys = NewKeys("HS256");
        var jwk = JsonNode.Parse(File.ReadAllText(keys))!["keys"]![0]!;
        byte[] secret = System.Buffers.Text.Base64Url.DecodeFromChars((string)jwk["k"]!);
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        string payload = "{\r\n  \"iss\": \"I\",\n  \"aud\": [\n    \"A\"\n  ],\n  \"sub\": \"S\u2028T\",\n\t\"note\": \"a\\nb\u2029c\",\n  \"exp\": "
                         + (now + 600) + ",\n  \"n\": {\n    \"x\": [ 1, 2 ]\n  }\n}\n";
        string input = System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.UTF8.GetBytes($$"""{"alg":"HS256","kid":"{{(string)jwk["kid"]!}}","typ":"at+jwt"}"""))
                       + "." + System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.UTF8.GetBytes(payload));
        string pretty = input + "." + System.Buffers.Text.Base64Url.EncodeToString(System.Security.Cryptography.HMACSHA256.HashData(secret, System.Text.Encoding.ASCII.GetBytes(input)));

        var (code, output, _) = RunWithInput($"{pretty}\nnot-a-token\n{pretty}\n", "token", "verify", "--keys", keys, "--iss", "I", "--aud", "A", "--stdin");
        Assert.Equal(0, code);
        Assert.DoesNotContain('\r', output);
        Assert.DoesNotContain('\u2028', output);
        Assert.DoesNotContain('\u2029', output);
        var lines = output.Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.Equal("", lines[3]);
        foreach (int i in new[] { 0, 2 })
        {
            var line = JsonNode.Parse(lines[i])!;
            Assert.True((bool)line["valid"]!);
            Assert.Equal("S\u2028T", (string)line["claims"]!["sub"]!);
            Assert.Equal("a\nb\u2029c", (string)line["claims"]!["note"]!);
            Assert.Equal(2, (int)line["claims"]!["n"]!["x"]![1]!);
            Assert.Equal(now + 600, (long)line["claims"]!["exp"]!);
        }
        Assert.Equal("malformed", (string)JsonNode.Parse(lines[1])!["reason"]!);
    }

    [Fact]
    public void TokenVerify_MissingKeyFile_IsUsageErrorOneLine()
    {
        var (code, output, err) = Run("token", "verify", "--keys", PathOf("missing.json"), "--iss", "I", "--aud", "A", "x.y.z");
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Single(err.Trim().Split('\n'));
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void TokenVerify_UnsafeKeyFile_IsUsageErrorNamingReason()
    {
        string path = PathOf("weak.json");
        File.WriteAllText(path, """{"keys":[{"kty":"oct","alg":"HS256","k":"AAAAAAAAAAAAAAAAAAAAAA"}]}""");
        var (code, _, err) = Run("token", "verify", "--keys", path, "--iss", "I", "--aud", "A", "x.y.z");
        Assert.Equal(2, code);
        Assert.Contains("hmac_too_short", err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void TokenVerify_PublicJwksFile_VerifiesAsymmetricTokens()
    {
        string keys = NewKeys("RS256");
        string jwks = PathOf("public.json");
        File.WriteAllText(jwks, Run("keys", "jwks", keys).Out);
        Assert.Equal(0, Run("token", "verify", "--keys", jwks, "--iss", "I", "--aud", "A", Issue(keys)).Code);
    }

    [Theory]
    [InlineData("token", "verify", "--iss", "I", "--aud", "A", "x.y.z")]
    [InlineData("token", "verify", "--keys", "k", "--iss", "I", "--aud", "A")]
    [InlineData("token", "bogus")]
    [InlineData("token", "issue", "--keys", "k", "--iss", "I", "--aud", "A", "--sub", "S", "--ttl", "ten")]
    public void BadArguments_AreUsageErrors(params string[] args)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(2, code);
        Assert.StartsWith("error:", err);
    }

    [Fact]
    public void TokenVerify_TokenAndStdin_IsUsageError()
    {
        string keys = NewKeys();
        Assert.Equal(2, Run("token", "verify", "--keys", keys, "--iss", "I", "--aud", "A", "--stdin", "x.y.z").Code);
    }

    [Fact]
    public void TokenIssue_Ttl_SetsLifetime()
    {
        string keys = NewKeys();
        var payload = JsonNode.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(Issue(keys, "--ttl", "90s").Split('.')[1]))!;
        Assert.Equal(90, (long)payload["exp"]! - (long)payload["iat"]!);
    }

    [Fact]
    public void TokenDecode_PrintsHeaderAndPayloadMarkedUnverified()
    {
        string keys = NewKeys();
        var (code, output, _) = Run("token", "decode", Issue(keys));
        Assert.Equal(0, code);
        Assert.StartsWith("UNVERIFIED header", output);
        Assert.Contains("UNVERIFIED payload", output);
        Assert.Contains("\"typ\": \"at+jwt\"", output);
        Assert.Contains("\"sub\": \"S\"", output);
    }

    [Fact]
    public async Task TokenIssue_KeyRingFile_SignsWithCurrentNotPendingKey()
    {
        string path = PathOf("ring.json");
        var ring = await KeyRing.LoadOrCreateAsync(new FileKeyStore(path), new KeyRingOptions { PrePublicationDelay = TimeSpan.FromHours(1) });
        string current = ring.CurrentSigningKey.KeyId!;
        await ring.RotateAsync();
        var header = JsonNode.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(Issue(path).Split('.')[0]))!;
        Assert.Equal(current, (string)header["kid"]!);
        var (code, output, _) = Run("token", "issue", "--keys", path, "--iss", "I", "--aud", "A", "--sub", "S", "--kid", "nope");
        Assert.Equal(2, code);
        Assert.Equal("", output);
    }

    [Fact]
    public void TokenDecode_Garbage_ExitsOneMalformed()
    {
        var (code, output, _) = Run("token", "decode", "garbage");
        Assert.Equal(1, code);
        Assert.Equal("malformed", output.Trim());
    }

    [Fact]
    public void ProgramAssembly_IsNamedBouncer()
    {
        Assert.Equal("bouncer", typeof(BouncerCli).Assembly.GetName().Name);
    }
}
