using System.Text.Json;
using Bouncer.Tokens;

namespace Bouncer.Verifier;

/// <summary>
/// Loads the JWKS of an outside issuer, which is laxer than Bouncer's own: keys may lack <c>alg</c>, and the set may
/// hold encryption keys or algorithms this service does not accept. Each key is judged on its own and skipped when
/// it does not fit; what remains goes through the strict <see cref="SigningKey.FromJwk"/> and <see cref="JwkSet.Create"/>.
/// </summary>
public static class OutsideJwks
{
    /// <summary>
    /// Builds the verification set. A key is kept only when: it has no private or symmetric material, <c>use</c> is
    /// absent or <c>sig</c>, and its <c>alg</c> is one of <paramref name="allowed"/>; a key without <c>alg</c> is pinned
    /// to the single allowed algorithm when exactly one is allowed and the <c>kty</c> fits (otherwise skipped: guessing
    /// an algorithm is how confusion attacks start, RFC 8725 3.1).
    /// </summary>
    /// <param name="skipped">Called with (kid, reason code) for every key left out.</param>
    /// <exception cref="KeyLoadException">The document is malformed, or no key is left (<c>empty_jwks</c>), or kids collide.</exception>
    public static JwkSet Parse(string json, IReadOnlyList<JwsAlgorithm> allowed, Action<string?, string>? skipped = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(allowed);
        var keys = new List<SigningKey>();
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("keys", out var array) || array.ValueKind != JsonValueKind.Array)
                throw new KeyLoadException("malformed_jwks", "a JWK set is a JSON object with a 'keys' array");
            foreach (var element in array.EnumerateArray())
            {
                if (element.ValueKind != JsonValueKind.Object)
                {
                    skipped?.Invoke(null, "malformed_jwk");
                    continue;
                }
                string? kid = Str(element, "kid");
                var reason = TryLoad(element, allowed, out var key);
                if (key is null) skipped?.Invoke(kid, reason!);
                else keys.Add(key);
            }
        }
        catch (JsonException ex)
        {
            throw new KeyLoadException("malformed_jwks", $"the JWK set is not valid JSON: {ex.Message}", ex);
        }
        if (keys.Count == 0) throw new KeyLoadException("empty_jwks", "no key of the JWK set fits the issuer's allowed algorithms");
        return JwkSet.Create(keys);
    }

    private static string? TryLoad(JsonElement element, IReadOnlyList<JwsAlgorithm> allowed, out SigningKey? key)
    {
        key = null;
        string? kty = Str(element, "kty");
        // A published set is public by definition: private or symmetric material there is a leak, never a key to trust.
        if (element.TryGetProperty("d", out _) || element.TryGetProperty("k", out _) || kty == "oct") return "not_public_key";
        string? use = Str(element, "use");
        if (use is not null && use != "sig") return "bad_use";
        string? algName = Str(element, "alg");
        JwsAlgorithm alg;
        if (algName is null)
        {
            if (allowed.Count != 1 || KtyOf(allowed[0]) != kty) return "missing_alg";
            alg = allowed[0];
        }
        else if (!JwsAlgorithms.TryParse(algName, out alg) || !allowed.Contains(alg))
        {
            return "alg_not_allowed";
        }
        List<string>? keyOps = null;
        if (element.TryGetProperty("key_ops", out var ops))
        {
            if (ops.ValueKind != JsonValueKind.Array) return "malformed_jwk";
            keyOps = [];
            foreach (var op in ops.EnumerateArray())
            {
                if (op.ValueKind != JsonValueKind.String) return "malformed_jwk";
                keyOps.Add(op.GetString()!);
            }
        }
        var jwk = new Jwk
        {
            Kty = kty, Alg = alg.Name(), Kid = Str(element, "kid"), Use = use, KeyOps = keyOps,
            Crv = Str(element, "crv"), X = Str(element, "x"), Y = Str(element, "y"), N = Str(element, "n"), E = Str(element, "e"),
            HasOtherPrimes = element.TryGetProperty("oth", out _),
        };
        try
        {
            key = SigningKey.FromJwk(jwk);
            return null;
        }
        catch (KeyLoadException ex)
        {
            return ex.Reason;
        }
    }

    private static string KtyOf(JwsAlgorithm alg) => alg switch
    {
        JwsAlgorithm.RS256 or JwsAlgorithm.PS256 => "RSA",
        JwsAlgorithm.ES256 => "EC",
        JwsAlgorithm.EdDSA => "OKP",
        _ => "oct",
    };

    // A member of the wrong type reads as absent; SigningKey.FromJwk then refuses the key for the missing member.
    private static string? Str(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
