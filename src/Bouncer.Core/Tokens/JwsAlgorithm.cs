using System.Text.Json;

namespace Bouncer.Tokens;

/// <summary>The JWS algorithms Bouncer supports (RFC 7518 3.1, RFC 8037 3.1). There is deliberately no <c>none</c>.</summary>
public enum JwsAlgorithm
{
    /// <summary>HMAC with SHA-256; an <c>oct</c> key of at least 256 bits.</summary>
    HS256 = 1,
    /// <summary>RSASSA-PKCS1-v1_5 with SHA-256; an RSA key of at least 2048 bits.</summary>
    RS256,
    /// <summary>RSASSA-PSS with SHA-256, MGF1-SHA-256, 32-byte salt; an RSA key of at least 2048 bits.</summary>
    PS256,
    /// <summary>ECDSA on P-256 with SHA-256, signature in IEEE P1363 form (64 bytes).</summary>
    ES256,
    /// <summary>EdDSA with Ed25519 (RFC 8037), via NSec.</summary>
    EdDSA,
}

/// <summary>Names and parsing for <see cref="JwsAlgorithm"/>.</summary>
public static class JwsAlgorithms
{
    /// <summary>The registered <c>alg</c> name, e.g. <c>ES256</c>.</summary>
    public static string Name(this JwsAlgorithm alg) => alg switch
    {
        JwsAlgorithm.HS256 => "HS256",
        JwsAlgorithm.RS256 => "RS256",
        JwsAlgorithm.PS256 => "PS256",
        JwsAlgorithm.ES256 => "ES256",
        JwsAlgorithm.EdDSA => "EdDSA",
        _ => throw new ArgumentOutOfRangeException(nameof(alg), alg, null),
    };

    /// <summary>Parses an <c>alg</c> name; exact and case-sensitive (RFC 7515 4.1.1), so <c>none</c>, <c>None</c> and <c>hs256</c> all fail.</summary>
    public static bool TryParse(string? name, out JwsAlgorithm alg)
    {
        alg = name switch
        {
            "HS256" => JwsAlgorithm.HS256,
            "RS256" => JwsAlgorithm.RS256,
            "PS256" => JwsAlgorithm.PS256,
            "ES256" => JwsAlgorithm.ES256,
            "EdDSA" => JwsAlgorithm.EdDSA,
            _ => 0,
        };
        return alg != 0;
    }

    // Matches the current JSON string token against the names without allocating; handles escapes.
    internal static JwsAlgorithm Match(ref Utf8JsonReader reader)
    {
        if (reader.ValueTextEquals("HS256"u8)) return JwsAlgorithm.HS256;
        if (reader.ValueTextEquals("RS256"u8)) return JwsAlgorithm.RS256;
        if (reader.ValueTextEquals("PS256"u8)) return JwsAlgorithm.PS256;
        if (reader.ValueTextEquals("ES256"u8)) return JwsAlgorithm.ES256;
        if (reader.ValueTextEquals("EdDSA"u8)) return JwsAlgorithm.EdDSA;
        return 0;
    }
}
