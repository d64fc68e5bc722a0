using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Bouncer.Tokens;

/// <summary>
/// Verifies compact JWS access tokens (RFC 7515, RFC 7519, RFC 9068) in a fixed order: size cap, structure and
/// canonical base64url, header (alg, kid, typ; <c>crit</c>, key-bearing headers, <c>b64</c>, <c>zip</c> and <c>enc</c>
/// refused; other members ignored, RFC 7515 4), key choice and alg pin,
/// signature, then claims (exp, nbf, iat, iss, aud). Never throws on bad input: the result says why it failed.
/// Thread-safe; build one per key source and reuse it. A valid HS256 verify allocates nothing.
/// </summary>
/// <example><code>
/// var verifier = new JwsVerifier(JwkSet.Parse(json), new VerifyOptions { Issuer = "https://id.example", Audience = "api" }, TimeProvider.System);
/// VerifyResult r = verifier.Verify(tokenUtf8);
/// if (!r.IsValid) return Results.Json(new { error = r.Failure.ToCode() }, statusCode: 401);
/// string? user = r.GetSubject();
/// </code></example>
public sealed partial class JwsVerifier
{
    private const int StackLimit = 1024;
    private const int MaxSignatureBytes = 1024;   // RSA-8192, the largest key the loader accepts
    private const int MaxPayloadMembers = 256;    // bounds the duplicate-member check, which is quadratic per object
    private const long MaxNumericDate = 253402300799; // 9999-12-31T23:59:59Z

    private readonly IKeySource _keys;
    private readonly VerifyOptions _options;
    private readonly TimeProvider _time;
    private readonly byte[] _issuerUtf8;
    private readonly byte[] _audienceUtf8;
    private readonly long _skewSeconds;
    private readonly byte[][] _acceptedTypesUtf8;

    /// <param name="keys">A <see cref="JwkSet"/> or a <see cref="KeyRing"/>.</param>
    /// <param name="options">Issuer and audience are required.</param>
    /// <param name="timeProvider">The clock; <see cref="TimeProvider.System"/> when null.</param>
    public JwsVerifier(IKeySource keys, VerifyOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _keys = keys;
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _issuerUtf8 = Encoding.UTF8.GetBytes(options.Issuer);
        _audienceUtf8 = Encoding.UTF8.GetBytes(options.Audience);
        _skewSeconds = (long)options.ClockSkew.TotalSeconds;
        _acceptedTypesUtf8 = options.AcceptedTypes.Select(t => Encoding.ASCII.GetBytes(t)).ToArray();
    }

    /// <summary>Verifies a UTF-8 compact JWS. The result borrows <paramref name="token"/>: read claims before it goes away.</summary>
    public VerifyResult Verify(ReadOnlySpan<byte> token)
    {
        var failure = VerifyCore(token, checkClaims: true, readAccess: false, out var key, out var times, out var payload, out _);
        return failure == VerifyFailure.None
            ? new VerifyResult(token[payload], default, key!, times)
            : new VerifyResult(failure);
    }

    /// <summary>
    /// <see cref="Verify(ReadOnlySpan{byte})"/> that also reads the access claims from the payload it has just decoded
    /// and checked, instead of decoding it a second time as <see cref="VerifyResult.GetAccessClaims"/> does.
    /// </summary>
    internal VerifyFailure VerifyAccess(ReadOnlySpan<byte> token, out SigningKey? key, out AccessClaims claims) =>
        VerifyCore(token, checkClaims: true, readAccess: true, out key, out _, out _, out claims);

    /// <summary>Verifies a compact JWS given as a string (no whitespace trimming).</summary>
    public VerifyResult Verify(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (token.Length > _options.MaxTokenBytes) return new VerifyResult(VerifyFailure.TooLarge);
        byte[]? rented = null;
        Span<byte> bytes = token.Length <= StackLimit ? stackalloc byte[StackLimit] : (rented = ArrayPool<byte>.Shared.Rent(token.Length));
        try
        {
            // A compact JWS is ASCII; anything else cannot be canonical base64url.
            if (System.Text.Ascii.FromUtf16(token, bytes, out int written) != OperationStatus.Done)
                return new VerifyResult(VerifyFailure.Malformed);
            var failure = VerifyCore(bytes[..written], checkClaims: true, readAccess: false, out var key, out var times, out var payload, out _);
            return failure == VerifyFailure.None
                ? new VerifyResult(default, token.AsSpan()[payload], key!, times)
                : new VerifyResult(failure);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// The JWS layer alone: structure, header rules, key choice, alg pin and signature; no typ, no claims, any payload.
    /// For vectors whose payload is not a JWT (Wycheproof, RFC 7520).
    /// </summary>
    internal VerifyFailure VerifySignatureOnly(ReadOnlySpan<byte> token) =>
        VerifyCore(token, checkClaims: false, readAccess: false, out _, out _, out _, out _);

    private VerifyFailure VerifyCore(ReadOnlySpan<byte> token, bool checkClaims, bool readAccess, out SigningKey? key, out ClaimTimes times,
        out Range payloadRange, out AccessClaims access)
    {
        key = null;
        times = default;
        payloadRange = default;
        access = default;

        // The size cap comes first, before anything whose cost grows with the input.
        if (token.Length > _options.MaxTokenBytes) return VerifyFailure.TooLarge;

        int dot1 = token.IndexOf((byte)'.');
        if (dot1 <= 0) return VerifyFailure.Malformed;
        int dot2 = token[(dot1 + 1)..].IndexOf((byte)'.');
        if (dot2 < 0) return VerifyFailure.Malformed;
        dot2 += dot1 + 1;
        var headerB64 = token[..dot1];
        var payloadB64 = token[(dot1 + 1)..dot2];
        var signatureB64 = token[(dot2 + 1)..];
        if (signatureB64.Length == 0 || signatureB64.Contains((byte)'.')) return VerifyFailure.Malformed;
        if (checkClaims && payloadB64.Length == 0) return VerifyFailure.Malformed;
        if (!Base64UrlStrict.IsAlphabetOrDot(token) || !Base64UrlStrict.HasCanonicalShape(headerB64) ||
            !Base64UrlStrict.HasCanonicalShape(payloadB64) || !Base64UrlStrict.HasCanonicalShape(signatureB64))
            return VerifyFailure.Malformed;

        int headerLength = Base64UrlStrict.DecodedLength(headerB64.Length);
        int payloadLength = Base64UrlStrict.DecodedLength(payloadB64.Length);
        int signatureLength = Base64UrlStrict.DecodedLength(signatureB64.Length);
        if (signatureLength > MaxSignatureBytes) return VerifyFailure.BadSignature;
        if (signatureLength == 0) return VerifyFailure.Malformed;

        int scratchLength = Math.Max(headerLength, checkClaims ? payloadLength : 0);
        byte[]? rented = null;
        // Sized to need: stackalloc zero-fills, so a fixed 1 KiB buffer would cost more than the decode itself.
        Span<byte> scratch = scratchLength <= StackLimit ? stackalloc byte[scratchLength] : (rented = ArrayPool<byte>.Shared.Rent(scratchLength));
        try
        {
            var snapshot = _keys.GetSnapshot();
            // Tokens from one issuer repeat the same header bytes: a header that already passed, on a token whose
            // signature verified against this very snapshot, parses the same way again. A cached Wrong typ is parsed
            // again by a verifier with extra accepted types, which may admit it.
            bool headerCached = snapshot.TryGetHeader(headerB64, out var header)
                && !(header.Typ == TypState.Wrong && _acceptedTypesUtf8.Length > 0);
            if (!headerCached)
            {
                if (!Base64UrlStrict.TryDecodeChecked(headerB64, scratch, out int headerWritten)) return VerifyFailure.Malformed;
                VerifyFailure failure;
                // An escaped lone surrogate is JSON syntax but no text: the reader throws InvalidOperationException
                // when asked to compare or copy it. Caught here and around the claims only, so that the same
                // exception from a key or the crypto (a disposed handle) is not mistaken for bad input.
                try { failure = ReadHeader(scratch[..headerWritten], snapshot.Keys, _acceptedTypesUtf8, out header); }
                catch (InvalidOperationException e) when (e is not ObjectDisposedException) { return VerifyFailure.Malformed; }
                if (failure != VerifyFailure.None) return failure;
            }

            // RFC 8725 3.1: the algorithm comes from the key, never from the token; the header only has to agree.
            if (header.Algorithm == 0) return VerifyFailure.AlgNotAllowed;
            if (header.HasKid ? header.KeyIndex < 0 : snapshot.Keys.Length != 1) return VerifyFailure.UnknownKid;
            var chosen = snapshot.Keys[header.HasKid ? header.KeyIndex : 0];
            if (chosen.Algorithm != header.Algorithm) return VerifyFailure.AlgNotAllowed;
            if (checkClaims && (header.Typ == TypState.Wrong || header.Typ == TypState.Absent && _options.RequireTyp)) return VerifyFailure.BadTyp;

            if (signatureLength != chosen.SignatureLength) return VerifyFailure.BadSignature;
            Span<byte> signature = stackalloc byte[signatureLength];
            if (!Base64UrlStrict.TryDecodeChecked(signatureB64, signature, out _)) return VerifyFailure.Malformed;
            if (!chosen.Verify(token[..dot2], signature)) return VerifyFailure.BadSignature;
            // The cache is shared by every verifier over this snapshot: a typ only this verifier admits stays out of it.
            if (!headerCached && header.Typ != TypState.AcceptedExtra) snapshot.RememberHeader(headerB64, header);

            if (checkClaims)
            {
                if (!Base64UrlStrict.TryDecodeChecked(payloadB64, scratch, out int payloadWritten)) return VerifyFailure.Malformed;
                // RFC 8259 8.1: JSON text is UTF-8. Checked up front so that claims read later on demand cannot fail.
                if (!System.Text.Unicode.Utf8.IsValid(scratch[..payloadWritten])) return VerifyFailure.Malformed;
                VerifyFailure failure;
                try { failure = ReadClaims(scratch[..payloadWritten], out times); }
                catch (InvalidOperationException e) when (e is not ObjectDisposedException) { return VerifyFailure.Malformed; }
                if (failure != VerifyFailure.None) return failure;
                // Only after every check passed, on the bytes the checks read.
                if (readAccess) access = VerifyResult.ReadAccessClaims(scratch[..payloadWritten], times.Iat, times.AuthTime);
            }
            key = chosen;
            payloadRange = (dot1 + 1)..dot2;
            return VerifyFailure.None;
        }
        catch (JsonException)
        {
            // The one boundary where malformed JSON (bad syntax, trailing data, invalid UTF-8) becomes a failure code.
            return VerifyFailure.Malformed;
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
