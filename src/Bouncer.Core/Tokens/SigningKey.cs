using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;
using IncrementalHash = System.Security.Cryptography.IncrementalHash;

namespace Bouncer.Tokens;

/// <summary>
/// A key pinned to exactly one <see cref="JwsAlgorithm"/>, with its crypto objects built once at load. It may hold
/// private material (<see cref="CanSign"/>) or only the public half. Built only through <see cref="Generate"/> or
/// <see cref="FromJwk"/>, which refuse unsafe keys. Verification is thread-safe. <see cref="ToString"/> never shows
/// key material.
/// </summary>
public sealed class SigningKey
{
    private const int MinRsaBits = 2048;
    private const int MaxRsaBits = 8192;
    private const int MinHmacBytes = 32;

    private readonly byte[]? _hmacKey;
    // IncrementalHash is not thread-safe and building one per call costs a native context: one per key per thread.
    private readonly ThreadLocal<IncrementalHash>? _hmac;
    private readonly RSA? _rsa;
    private readonly ECDsa? _ecdsa;
    private readonly Key? _edPrivate;
    private readonly PublicKey? _edPublic;
    private readonly Jwk _jwk;

    private SigningKey(JwsAlgorithm alg, string? kid, bool canSign, Jwk jwk,
        byte[]? hmacKey = null, RSA? rsa = null, ECDsa? ecdsa = null, Key? edPrivate = null, PublicKey? edPublic = null)
    {
        Algorithm = alg;
        KeyId = kid;
        KeyIdUtf8 = kid is null ? null : Encoding.UTF8.GetBytes(kid);
        CanSign = canSign;
        _jwk = jwk;
        _hmacKey = hmacKey;
        if (hmacKey is not null)
            _hmac = new ThreadLocal<IncrementalHash>(() => IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, hmacKey));
        _rsa = rsa;
        _ecdsa = ecdsa;
        _edPrivate = edPrivate;
        _edPublic = edPublic;
        SignatureLength = alg switch
        {
            JwsAlgorithm.HS256 => SignaturePrimitives.HmacSha256Length,
            JwsAlgorithm.RS256 or JwsAlgorithm.PS256 => rsa!.KeySize / 8,
            _ => 64,
        };
    }

    /// <summary>The one algorithm this key is pinned to.</summary>
    public JwsAlgorithm Algorithm { get; }

    /// <summary>The key id, or null when the JWK had none.</summary>
    public string? KeyId { get; }

    /// <summary>True when the key holds private (or symmetric) material and can sign.</summary>
    public bool CanSign { get; }

    /// <summary>True for <c>oct</c> keys, which are secret and never published.</summary>
    public bool IsSymmetric => Algorithm == JwsAlgorithm.HS256;

    internal byte[]? KeyIdUtf8 { get; }

    internal int SignatureLength { get; }

    /// <summary>Algorithm, key id and whether the key can sign; never key material.</summary>
    public override string ToString() => $"SigningKey({Algorithm.Name()}, kid={KeyId}, {(CanSign ? "private" : "public")})";

    /// <summary>Generates a fresh key: HS256 256-bit secret, RSA 2048-bit (e = 65537), P-256, or Ed25519.</summary>
    public static SigningKey Generate(JwsAlgorithm alg, string? kid = null)
    {
        kid ??= NewKid();
        switch (alg)
        {
            case JwsAlgorithm.HS256:
                return FromJwk(new Jwk { Kty = "oct", Alg = "HS256", Kid = kid, Use = "sig", K = B64(RandomNumberGenerator.GetBytes(32)) });
            case JwsAlgorithm.RS256:
            case JwsAlgorithm.PS256:
            {
                using var rsa = RSA.Create(2048);
                var p = rsa.ExportParameters(true);
                return FromJwk(new Jwk
                {
                    Kty = "RSA", Alg = alg.Name(), Kid = kid, Use = "sig", N = B64(p.Modulus!), E = B64(p.Exponent!),
                    D = B64(p.D!), P = B64(p.P!), Q = B64(p.Q!), DP = B64(p.DP!), DQ = B64(p.DQ!), QI = B64(p.InverseQ!),
                });
            }
            case JwsAlgorithm.ES256:
            {
                using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                var p = ec.ExportParameters(true);
                return FromJwk(new Jwk
                {
                    Kty = "EC", Alg = "ES256", Kid = kid, Use = "sig", Crv = "P-256",
                    X = B64(p.Q.X!), Y = B64(p.Q.Y!), D = B64(p.D!),
                });
            }
            case JwsAlgorithm.EdDSA:
            {
                using var key = Key.Create(SignatureAlgorithm.Ed25519,
                    new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
                return FromJwk(new Jwk
                {
                    Kty = "OKP", Alg = "EdDSA", Kid = kid, Use = "sig", Crv = "Ed25519",
                    X = B64(key.PublicKey.Export(KeyBlobFormat.RawPublicKey)), D = B64(key.Export(KeyBlobFormat.RawPrivateKey)),
                });
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(alg), alg, null);
        }
    }

    /// <summary>
    /// Builds a key from a JWK, refusing unsafe keys with a <see cref="KeyLoadException"/>: missing or unsupported
    /// <c>alg</c>, <c>kty</c>/<c>crv</c> that do not fit it, <c>use</c> other than <c>sig</c>, <c>key_ops</c> other than
    /// sign/verify, RSA under 2048 bits or with e &lt; 65537 or even, EC points off the curve, HMAC keys under 256 bits,
    /// non-canonical base64url, private halves that do not match the public one.
    /// </summary>
    public static SigningKey FromJwk(Jwk jwk)
    {
        ArgumentNullException.ThrowIfNull(jwk);
        string who = jwk.Kid is null ? "key without kid" : $"key '{jwk.Kid}'";
        if (jwk.Alg is null)
            throw new KeyLoadException("missing_alg", $"{who}: no 'alg'; every key must be pinned to one algorithm");
        if (!JwsAlgorithms.TryParse(jwk.Alg, out var alg))
            throw new KeyLoadException("unsupported_alg", $"{who}: alg '{jwk.Alg}' is not supported (HS256, RS256, PS256, ES256, EdDSA)");
        if (jwk.Use is not null && jwk.Use != "sig")
            throw new KeyLoadException("bad_use", $"{who}: use '{jwk.Use}' is not 'sig'");
        if (jwk.KeyOps is not null && jwk.KeyOps.Any(op => op is not ("sign" or "verify")))
            throw new KeyLoadException("bad_key_ops", $"{who}: key_ops may only hold 'sign' and 'verify'");
        string expectedKty = alg switch
        {
            JwsAlgorithm.HS256 => "oct",
            JwsAlgorithm.RS256 or JwsAlgorithm.PS256 => "RSA",
            JwsAlgorithm.ES256 => "EC",
            _ => "OKP",
        };
        if (jwk.Kty != expectedKty)
            throw new KeyLoadException("kty_alg_mismatch", $"{who}: kty '{jwk.Kty}' does not fit alg {jwk.Alg} (needs '{expectedKty}')");
        return alg switch
        {
            JwsAlgorithm.HS256 => LoadOct(jwk, who),
            JwsAlgorithm.RS256 or JwsAlgorithm.PS256 => LoadRsa(jwk, alg, who),
            JwsAlgorithm.ES256 => LoadEc(jwk, who),
            _ => LoadOkp(jwk, who),
        };
    }

    /// <summary>The JWK of this key; private members only when <paramref name="includePrivate"/>.</summary>
    public Jwk ToJwk(bool includePrivate)
    {
        if (includePrivate || !CanSign) return _jwk;
        if (IsSymmetric) throw new InvalidOperationException("an oct key is secret: it has no public form");
        return new Jwk { Kty = _jwk.Kty, Alg = _jwk.Alg, Kid = _jwk.Kid, Use = _jwk.Use, Crv = _jwk.Crv, X = _jwk.X, Y = _jwk.Y, N = _jwk.N, E = _jwk.E };
    }

    /// <summary>Checks <paramref name="signature"/> over <paramref name="signingInput"/> with this key's pinned algorithm.</summary>
    internal bool Verify(ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature) => Algorithm switch
    {
        JwsAlgorithm.HS256 => SignaturePrimitives.VerifyHmacSha256(_hmac!.Value!, signingInput, signature),
        JwsAlgorithm.RS256 => SignaturePrimitives.VerifyRsaPkcs1Sha256(_rsa!, signingInput, signature),
        JwsAlgorithm.PS256 => SignaturePrimitives.VerifyRsaPssSha256(_rsa!, signingInput, signature),
        JwsAlgorithm.ES256 => SignaturePrimitives.VerifyEcdsaP256Sha256(_ecdsa!, signingInput, signature),
        _ => SignaturePrimitives.VerifyEd25519(_edPublic!, signingInput, signature),
    };

    /// <summary>Signs into <paramref name="destination"/> (at least <see cref="SignatureLength"/> bytes); returns bytes written.</summary>
    internal int Sign(ReadOnlySpan<byte> signingInput, Span<byte> destination)
    {
        if (!CanSign) throw new InvalidOperationException($"{this} holds no private material");
        int written;
        switch (Algorithm)
        {
            case JwsAlgorithm.HS256:
                var hmac = _hmac!.Value!;
                hmac.AppendData(signingInput);
                written = hmac.GetHashAndReset(destination);
                break;
            case JwsAlgorithm.RS256:
                if (!_rsa!.TrySignData(signingInput, destination, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1, out written))
                    throw new ArgumentException("destination too small", nameof(destination));
                break;
            case JwsAlgorithm.PS256:
                if (!_rsa!.TrySignData(signingInput, destination, HashAlgorithmName.SHA256, RSASignaturePadding.Pss, out written))
                    throw new ArgumentException("destination too small", nameof(destination));
                break;
            case JwsAlgorithm.ES256:
                if (!_ecdsa!.TrySignData(signingInput, destination, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation, out written))
                    throw new ArgumentException("destination too small", nameof(destination));
                break;
            default:
                SignatureAlgorithm.Ed25519.Sign(_edPrivate!, signingInput, destination[..64]);
                written = 64;
                break;
        }
        return written;
    }

    private static SigningKey LoadOct(Jwk jwk, string who)
    {
        if (jwk.D is not null || jwk.N is not null || jwk.X is not null)
            throw new KeyLoadException("malformed_jwk", $"{who}: an oct key holds only 'k'");
        var k = Decode(jwk.K, "k", who) ?? throw new KeyLoadException("missing_member", $"{who}: oct key without 'k'");
        // RFC 7518 3.2: an HS256 key must be at least as long as the hash output.
        if (k.Length < MinHmacBytes)
            throw new KeyLoadException("hmac_too_short", $"{who}: HMAC key has {k.Length * 8} bits; at least 256 required");
        return new SigningKey(JwsAlgorithm.HS256, jwk.Kid, canSign: true, jwk, hmacKey: k);
    }

    private static SigningKey LoadRsa(Jwk jwk, JwsAlgorithm alg, string who)
    {
        if (jwk.HasOtherPrimes)
            throw new KeyLoadException("unsupported_rsa", $"{who}: multi-prime RSA ('oth') is not supported");
        var n = Decode(jwk.N, "n", who) ?? throw new KeyLoadException("missing_member", $"{who}: RSA key without 'n'");
        var e = Decode(jwk.E, "e", who) ?? throw new KeyLoadException("missing_member", $"{who}: RSA key without 'e'");
        if (n.Length == 0 || n[0] == 0 || e.Length == 0 || e[0] == 0)
            throw new KeyLoadException("malformed_jwk", $"{who}: RSA 'n' or 'e' has leading zero octets");
        var modulus = new BigInteger(n, isUnsigned: true, isBigEndian: true);
        long bits = modulus.GetBitLength();
        if (bits < MinRsaBits)
            throw new KeyLoadException("rsa_too_small", $"{who}: RSA modulus has {bits} bits; at least {MinRsaBits} required");
        if (bits > MaxRsaBits)
            throw new KeyLoadException("rsa_too_large", $"{who}: RSA modulus has {bits} bits; at most {MaxRsaBits} accepted");
        var exponent = new BigInteger(e, isUnsigned: true, isBigEndian: true);
        // NIST SP 800-56B: e > 2^16 and odd; tiny exponents invite low-exponent forgery bugs.
        if (exponent < 65537 || exponent.IsEven || exponent >= modulus)
            throw new KeyLoadException("rsa_bad_exponent", $"{who}: RSA public exponent must be odd and at least 65537");
        if (RocaFingerprint.Matches(modulus))
            throw new KeyLoadException("rsa_roca", $"{who}: RSA modulus has the ROCA fingerprint (CVE-2017-15361)");
        var parameters = new RSAParameters { Modulus = n, Exponent = e };
        bool isPrivate = jwk.D is not null;
        if (isPrivate)
        {
            parameters.D = Decode(jwk.D, "d", who);
            parameters.P = Decode(jwk.P, "p", who);
            parameters.Q = Decode(jwk.Q, "q", who);
            parameters.DP = Decode(jwk.DP, "dp", who);
            parameters.DQ = Decode(jwk.DQ, "dq", who);
            parameters.InverseQ = Decode(jwk.QI, "qi", who);
            if (parameters.P is null || parameters.Q is null || parameters.DP is null || parameters.DQ is null || parameters.InverseQ is null)
                throw new KeyLoadException("missing_member", $"{who}: private RSA key needs p, q, dp, dq and qi");
            // The BCL wants D, DP, DQ, InverseQ padded to the modulus / half-modulus length.
            parameters.D = PadLeft(parameters.D!, n.Length);
            int half = (n.Length + 1) / 2;
            parameters.P = PadLeft(parameters.P, half);
            parameters.Q = PadLeft(parameters.Q, half);
            parameters.DP = PadLeft(parameters.DP, half);
            parameters.DQ = PadLeft(parameters.DQ, half);
            parameters.InverseQ = PadLeft(parameters.InverseQ, half);
        }
        RSA rsa = RSA.Create();
        try
        {
            rsa.ImportParameters(parameters);
        }
        catch (CryptographicException ex)
        {
            rsa.Dispose();
            throw new KeyLoadException("rsa_invalid", $"{who}: the RSA parameters were refused by the platform", ex);
        }
        var key = new SigningKey(alg, jwk.Kid, isPrivate, jwk, rsa: rsa);
        if (isPrivate) PairwiseCheck(key, who);
        return key;
    }

    private static SigningKey LoadEc(Jwk jwk, string who)
    {
        if (jwk.Crv != "P-256")
            throw new KeyLoadException("curve_alg_mismatch", $"{who}: crv '{jwk.Crv}' does not fit ES256 (needs P-256)");
        var x = Decode(jwk.X, "x", who);
        var y = Decode(jwk.Y, "y", who);
        if (x is not { Length: 32 } || y is not { Length: 32 })
            throw new KeyLoadException("ec_bad_point", $"{who}: P-256 'x' and 'y' must be 32 bytes each");
        if (!P256.IsOnCurve(x, y))
            throw new KeyLoadException("ec_bad_point", $"{who}: the point (x, y) is not on P-256");
        var parameters = new ECParameters { Curve = ECCurve.NamedCurves.nistP256, Q = new ECPoint { X = x, Y = y } };
        bool isPrivate = jwk.D is not null;
        if (isPrivate)
        {
            var d = Decode(jwk.D, "d", who);
            if (d is not { Length: 32 })
                throw new KeyLoadException("malformed_jwk", $"{who}: P-256 'd' must be 32 bytes");
            parameters.D = d;
        }
        ECDsa ecdsa;
        try
        {
            ecdsa = ECDsa.Create(parameters);
        }
        catch (CryptographicException ex)
        {
            throw new KeyLoadException("ec_invalid", $"{who}: the EC parameters were refused by the platform", ex);
        }
        var key = new SigningKey(JwsAlgorithm.ES256, jwk.Kid, isPrivate, jwk, ecdsa: ecdsa);
        if (isPrivate) PairwiseCheck(key, who);
        return key;
    }

    private static SigningKey LoadOkp(Jwk jwk, string who)
    {
        if (jwk.Crv != "Ed25519")
            throw new KeyLoadException("curve_alg_mismatch", $"{who}: crv '{jwk.Crv}' does not fit EdDSA (only Ed25519)");
        var x = Decode(jwk.X, "x", who);
        if (x is not { Length: 32 })
            throw new KeyLoadException("malformed_jwk", $"{who}: Ed25519 'x' must be 32 bytes");
        if (!PublicKey.TryImport(SignatureAlgorithm.Ed25519, x, KeyBlobFormat.RawPublicKey, out var publicKey) || publicKey is null)
            throw new KeyLoadException("okp_bad_point", $"{who}: 'x' is not a valid Ed25519 public key");
        Key? privateKey = null;
        if (jwk.D is not null)
        {
            var d = Decode(jwk.D, "d", who);
            if (d is not { Length: 32 } || !Key.TryImport(SignatureAlgorithm.Ed25519, d, KeyBlobFormat.RawPrivateKey, out privateKey,
                    new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }) || privateKey is null)
                throw new KeyLoadException("malformed_jwk", $"{who}: Ed25519 'd' must be a 32-byte seed");
            if (!privateKey.PublicKey.Equals(publicKey))
                throw new KeyLoadException("key_mismatch", $"{who}: 'd' does not belong to 'x'");
        }
        return new SigningKey(JwsAlgorithm.EdDSA, jwk.Kid, privateKey is not null, jwk, edPrivate: privateKey, edPublic: publicKey);
    }

    // A private half that does not match the public half would sign tokens nobody can verify: fail at load.
    private static void PairwiseCheck(SigningKey key, string who)
    {
        ReadOnlySpan<byte> probe = "bouncer pairwise consistency probe"u8;
        Span<byte> signature = stackalloc byte[1024];
        bool ok;
        try
        {
            int written = key.Sign(probe, signature);
            ok = key.Verify(probe, signature[..written]);
        }
        catch (CryptographicException)
        {
            ok = false;
        }
        if (!ok) throw new KeyLoadException("key_mismatch", $"{who}: the private key does not match the public key");
    }

    private static byte[]? Decode(string? value, string member, string who)
    {
        if (value is null) return null;
        return Base64UrlStrict.DecodeToArray(value)
            ?? throw new KeyLoadException("bad_base64url", $"{who}: member '{member}' is not canonical base64url");
    }

    private static byte[] PadLeft(byte[] value, int length)
    {
        if (value.Length >= length) return value;
        var padded = new byte[length];
        value.CopyTo(padded, length - value.Length);
        return padded;
    }

    private static string B64(byte[] data) => Base64UrlStrict.Encode(data);

    private static string NewKid() => Base64UrlStrict.Encode(RandomNumberGenerator.GetBytes(12));
}
