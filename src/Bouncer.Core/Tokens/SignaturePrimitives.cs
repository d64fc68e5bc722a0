using System.Buffers.Binary;
using System.Security.Cryptography;
using NSec.Cryptography;
using IncrementalHash = System.Security.Cryptography.IncrementalHash;

namespace Bouncer.Tokens;

/// <summary>
/// The signature checks the verifier runs, one per algorithm, over BCL and NSec primitives. Kept apart so
/// the Wycheproof primitive vectors exercise exactly the code the verifier uses.
/// </summary>
internal static class SignaturePrimitives
{
    public const int HmacSha256Length = 32;
    public const int P256SignatureLength = 64;
    public const int Ed25519SignatureLength = 64;

    // Order n of the P-256 group, big-endian (SEC 2, 2.4.2).
    private static ReadOnlySpan<byte> P256Order =>
    [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
    ];

    /// <summary>HMAC-SHA-256 over <paramref name="data"/> with a reused (per-thread) <paramref name="hmac"/>, compared in constant time.</summary>
    public static bool VerifyHmacSha256(IncrementalHash hmac, ReadOnlySpan<byte> data, ReadOnlySpan<byte> tag)
    {
        if (tag.Length != HmacSha256Length) return false;
        Span<byte> computed = stackalloc byte[HmacSha256Length];
        hmac.AppendData(data);
        hmac.GetHashAndReset(computed);
        return TagEquals32(computed, tag);
    }

    /// <summary>
    /// Constant-time equality of two 32-byte MAC tags: no timing oracle on how many leading bytes matched. Four
    /// 64-bit XORs folded with OR, tested once at the end, so no branch depends on the data. This replaces
    /// <see cref="CryptographicOperations.FixedTimeEquals"/>, which is compiled without optimisation and cost
    /// ~100 ns per call here, a tenth of a whole HS256 verify (bench/results/jwt.md). The JIT output was read: the
    /// only branches are the (public) length checks.
    /// </summary>
    internal static bool TagEquals32(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != HmacSha256Length || b.Length != HmacSha256Length) return false;
        ulong difference =
            (BinaryPrimitives.ReadUInt64LittleEndian(a) ^ BinaryPrimitives.ReadUInt64LittleEndian(b)) |
            (BinaryPrimitives.ReadUInt64LittleEndian(a[8..]) ^ BinaryPrimitives.ReadUInt64LittleEndian(b[8..])) |
            (BinaryPrimitives.ReadUInt64LittleEndian(a[16..]) ^ BinaryPrimitives.ReadUInt64LittleEndian(b[16..])) |
            (BinaryPrimitives.ReadUInt64LittleEndian(a[24..]) ^ BinaryPrimitives.ReadUInt64LittleEndian(b[24..]));
        return difference == 0;
    }

    public static bool VerifyRsaPkcs1Sha256(RSA rsa, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature) =>
        signature.Length == rsa.KeySize / 8 && rsa.VerifyData(data, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);

    public static bool VerifyRsaPssSha256(RSA rsa, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature) =>
        signature.Length == rsa.KeySize / 8 && rsa.VerifyData(data, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);

    /// <summary>ECDSA P-256 over an IEEE P1363 signature (r || s, 32 bytes each); r and s must lie in 1..n-1.</summary>
    public static bool VerifyEcdsaP256Sha256(ECDsa ecdsa, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        if (signature.Length != P256SignatureLength) return false;
        // Refuse r or s outside 1..n-1 ourselves before the library sees them: r = s = 0 is the
        // "psychic signature" (CVE-2022-21449) that a missing range check accepts for any message.
        if (!InScalarRange(signature[..32]) || !InScalarRange(signature[32..])) return false;
        return ecdsa.VerifyData(data, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    public static bool VerifyEd25519(PublicKey publicKey, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature) =>
        signature.Length == Ed25519SignatureLength && SignatureAlgorithm.Ed25519.Verify(publicKey, data, signature);

    private static bool InScalarRange(ReadOnlySpan<byte> scalar) =>
        scalar.ContainsAnyExcept((byte)0) && scalar.SequenceCompareTo(P256Order) < 0;
}
