using System.Buffers.Text;
using System.Text;
using System.Text.Json.Nodes;
using Bouncer.Tokens;

namespace Bouncer.Tests.Tokens;

/// <summary>Vector files copied to the output folder (Vectors/, with their LICENSE files).</summary>
internal static class VectorFiles
{
    private static readonly Dictionary<string, JsonNode> Cache = new();

    public static JsonNode Load(string relativePath)
    {
        lock (Cache)
        {
            if (!Cache.TryGetValue(relativePath, out var node))
            {
                string path = Path.Combine(AppContext.BaseDirectory, "Vectors", relativePath);
                node = JsonNode.Parse(File.ReadAllText(path))!;
                Cache[relativePath] = node;
            }
            return node;
        }
    }

    /// <summary>(group, test) pairs of a Wycheproof file.</summary>
    public static IEnumerable<(JsonObject Group, JsonObject Test)> Cases(string file)
    {
        foreach (var group in Load($"wycheproof/{file}")["testGroups"]!.AsArray())
            foreach (var test in group!["tests"]!.AsArray())
                yield return (group.AsObject(), test!.AsObject());
    }

    public static (JsonObject Group, JsonObject Test) Case(string file, int tcId) =>
        Cases(file).Single(c => (int)c.Test["tcId"]! == tcId);

    public static TheoryData<int> Ids(string file, Func<JsonObject, JsonObject, bool>? where = null)
    {
        var data = new TheoryData<int>();
        foreach (var (group, test) in Cases(file))
            if (where is null || where(group, test)) data.Add((int)test["tcId"]!);
        return data;
    }

    public static byte[] Hex(JsonNode? node) => Convert.FromHexString((string)node!);
}

/// <summary>Builds tokens with arbitrary headers and payloads, signed by a key through the library's own signer.</summary>
internal static class TokenFactory
{
    public const string Issuer = "https://id.example";
    public const string Audience = "api";

    public static string B64(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));

    public static string Sign(SigningKey key, string headerJson, string payloadJson) =>
        SignEncoded(key, B64(headerJson), B64(payloadJson));

    public static string SignEncoded(SigningKey key, string headerB64, string payloadB64)
    {
        string input = headerB64 + "." + payloadB64;
        Span<byte> signature = stackalloc byte[1024];
        int written = key.Sign(Encoding.ASCII.GetBytes(input), signature);
        return input + "." + Base64Url.EncodeToString(signature[..written]);
    }

    public static string Header(SigningKey key, string? typ = "at+jwt") =>
        typ is null ? $$"""{"alg":"{{key.Algorithm.Name()}}","kid":"{{key.KeyId}}"}"""
                    : $$"""{"alg":"{{key.Algorithm.Name()}}","kid":"{{key.KeyId}}","typ":"{{typ}}"}""";

    /// <summary>The usual header with further members: <paramref name="before"/> ahead of alg, <paramref name="after"/> after typ.</summary>
    public static string HeaderWith(SigningKey key, string after, string before = "") =>
        "{" + before + (before.Length > 0 ? "," : "") + Header(key)[1..^1] + (after.Length > 0 ? "," : "") + after + "}";

    public static string Payload(DateTimeOffset now, string extra = "", long expIn = 600) =>
        $$"""{"iss":"{{Issuer}}","sub":"user-1","aud":"{{Audience}}","exp":{{now.ToUnixTimeSeconds() + expIn}},"iat":{{now.ToUnixTimeSeconds()}},"jti":"j1","sid":"s1"{{extra}}}""";

    public static VerifyOptions Options(bool requireTyp = true) =>
        new() { Issuer = Issuer, Audience = Audience, RequireTyp = requireTyp };
}

/// <summary>One generated key per algorithm, shared: RSA generation is slow.</summary>
internal static class TestKeys
{
    private static readonly Lazy<Dictionary<JwsAlgorithm, SigningKey>> Keys = new(() =>
        Enum.GetValues<JwsAlgorithm>().ToDictionary(a => a, a => SigningKey.Generate(a, "k-" + a.Name())));

    public static SigningKey For(JwsAlgorithm alg) => Keys.Value[alg];

    public static TheoryData<JwsAlgorithm> All => new(Enum.GetValues<JwsAlgorithm>());
}
