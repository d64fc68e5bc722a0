using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using Bouncer.Tokens;

namespace Bouncer.Dpop;

/// <summary>RFC 7638 JWK thumbprints (SHA-256), as DPoP's <c>cnf.jkt</c> carries them (RFC 9449 6.1).</summary>
public static class JwkThumbprint
{
    /// <summary>
    /// base64url SHA-256 of the key's required members in lexicographic order without whitespace (RFC 7638 3.2):
    /// <c>crv, kty, x, y</c> (EC), <c>crv, kty, x</c> (OKP), <c>e, kty, n</c> (RSA).
    /// </summary>
    /// <exception cref="ArgumentException">The JWK is not an EC, OKP or RSA public key with its members.</exception>
    public static string Compute(Jwk jwk)
    {
        ArgumentNullException.ThrowIfNull(jwk);
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            switch (jwk.Kty)
            {
                case "EC" when jwk is { Crv: not null, X: not null, Y: not null }:
                    writer.WriteString("crv", jwk.Crv);
                    writer.WriteString("kty", "EC");
                    writer.WriteString("x", jwk.X);
                    writer.WriteString("y", jwk.Y);
                    break;
                case "OKP" when jwk is { Crv: not null, X: not null }:
                    writer.WriteString("crv", jwk.Crv);
                    writer.WriteString("kty", "OKP");
                    writer.WriteString("x", jwk.X);
                    break;
                case "RSA" when jwk is { E: not null, N: not null }:
                    writer.WriteString("e", jwk.E);
                    writer.WriteString("kty", "RSA");
                    writer.WriteString("n", jwk.N);
                    break;
                default:
                    throw new ArgumentException("Only EC, OKP and RSA public keys have a thumbprint here.", nameof(jwk));
            }
            writer.WriteEndObject();
        }
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(buffer.WrittenSpan, digest);
        return Base64UrlStrict.Encode(digest);
    }
}
