using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Bouncer.Tests;

/// <summary>
/// A DPoP client (RFC 9449 4) written for the tests from the RFC, apart from the library: it holds a key, makes proofs
/// (every member can be overridden to make a bad one) and computes its RFC 7638 thumbprint by hand.
/// </summary>
public sealed class DpopClient : IDisposable
{
    private readonly ECDsa? _ec;
    private readonly NSec.Cryptography.Key? _ed;
    private readonly RSA? _rsa;

    private DpopClient(string alg, ECDsa? ec = null, NSec.Cryptography.Key? ed = null, RSA? rsa = null)
    {
        Algorithm = alg;
        _ec = ec;
        _ed = ed;
        _rsa = rsa;
        Jwk = PublicJwk();
        // RFC 7638 3.2: the required members, sorted, no whitespace.
        var canonical = alg switch
        {
            "ES256" => $"{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{Jwk["x"]}\",\"y\":\"{Jwk["y"]}\"}}",
            "EdDSA" => $"{{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"{Jwk["x"]}\"}}",
            _ => $"{{\"e\":\"{Jwk["e"]}\",\"kty\":\"RSA\",\"n\":\"{Jwk["n"]}\"}}",
        };
        Thumbprint = Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    public static DpopClient Es256() => new("ES256", ec: ECDsa.Create(ECCurve.NamedCurves.nistP256));

    public static DpopClient EdDsa() => new("EdDSA", ed: NSec.Cryptography.Key.Create(NSec.Cryptography.SignatureAlgorithm.Ed25519));

    public static DpopClient Ps256() => new("PS256", rsa: RSA.Create(2048));

    public string Algorithm { get; }

    /// <summary>The public JWK as the proof header carries it.</summary>
    public JsonObject Jwk { get; }

    /// <summary>The RFC 7638 SHA-256 thumbprint: what <c>cnf.jkt</c> must say.</summary>
    public string Thumbprint { get; }

    /// <summary>A proof for <paramref name="method"/> <paramref name="url"/>; <paramref name="accessToken"/> adds <c>ath</c>.</summary>
    public string Proof(string method, string url, string? accessToken = null, string? nonce = null, long? iat = null, string? jti = null,
        Action<JsonObject>? header = null, Action<JsonObject>? payload = null, TimeProvider? clock = null)
    {
        var h = new JsonObject { ["typ"] = "dpop+jwt", ["alg"] = Algorithm, ["jwk"] = Jwk.DeepClone() };
        header?.Invoke(h);
        var p = new JsonObject
        {
            ["jti"] = jti ?? Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16)),
            ["htm"] = method,
            ["htu"] = url,
            ["iat"] = iat ?? (clock ?? TimeProvider.System).GetUtcNow().ToUnixTimeSeconds(),
        };
        if (accessToken is not null) p["ath"] = Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(accessToken)));
        if (nonce is not null) p["nonce"] = nonce;
        payload?.Invoke(p);
        var input = B64(h.ToJsonString()) + "." + B64(p.ToJsonString());
        return input + "." + Base64Url.EncodeToString(Sign(Encoding.ASCII.GetBytes(input)));
    }

    private byte[] Sign(byte[] input) => Algorithm switch
    {
        "ES256" => _ec!.SignData(input, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation),
        "EdDSA" => NSec.Cryptography.SignatureAlgorithm.Ed25519.Sign(_ed!, input),
        _ => _rsa!.SignData(input, HashAlgorithmName.SHA256, RSASignaturePadding.Pss),
    };

    private JsonObject PublicJwk()
    {
        switch (Algorithm)
        {
            case "ES256":
                var q = _ec!.ExportParameters(false).Q;
                return new JsonObject { ["kty"] = "EC", ["crv"] = "P-256", ["x"] = Base64Url.EncodeToString(q.X), ["y"] = Base64Url.EncodeToString(q.Y) };
            case "EdDSA":
                return new JsonObject { ["kty"] = "OKP", ["crv"] = "Ed25519", ["x"] = Base64Url.EncodeToString(_ed!.PublicKey.Export(NSec.Cryptography.KeyBlobFormat.RawPublicKey)) };
            default:
                var r = _rsa!.ExportParameters(false);
                return new JsonObject { ["kty"] = "RSA", ["n"] = Base64Url.EncodeToString(r.Modulus), ["e"] = Base64Url.EncodeToString(r.Exponent) };
        }
    }

    /// <summary>The private scalar <c>d</c> of an ES256 key, to make a proof whose jwk wrongly carries it.</summary>
    public string PrivateD() => Base64Url.EncodeToString(_ec!.ExportParameters(true).D);

    private static string B64(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));

    public void Dispose()
    {
        _ec?.Dispose();
        _ed?.Dispose();
        _rsa?.Dispose();
    }
}
