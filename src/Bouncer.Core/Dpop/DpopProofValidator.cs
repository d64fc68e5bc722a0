using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Bouncer.Tokens;

namespace Bouncer.Dpop;

/// <summary>
/// Checks DPoP proofs (RFC 9449 4.3) in a fixed order: one proof, size, compact JWS in canonical base64url, header
/// (<c>typ</c> dpop+jwt, <c>alg</c> on the allowlist, a public <c>jwk</c>, no <c>crit</c>), signature by that
/// <c>jwk</c> through the strict key loader and the verifier's signature primitives, claims (<c>jti</c>, <c>htm</c>,
/// <c>htu</c>, <c>iat</c>, <c>ath</c>, <c>nonce</c>), the key's thumbprint against the token's <c>cnf.jkt</c>, and
/// last the replay cache (so a refused proof spends no <c>jti</c>). Never throws on bad input. Thread-safe; one per
/// process, its <see cref="DpopReplayCache"/> shared by every verifier in it.
/// </summary>
/// <example><code>
/// var dpop = new DpopProofValidator(new DpopOptions(), TimeProvider.System);
/// var verdict = dpop.CheckPresentation(dpopScheme: true, request.Headers["DPoP"], "GET", "https://api.example/orders", token, claims.ConfirmationKeyThumbprint, required: false);
/// if (!verdict.IsValid) return Challenge(verdict.Error, verdict.Failure);
/// </code></example>
public sealed class DpopProofValidator
{
    private const int MaxProofBytes = 8192;
    private const int MaxJtiLength = 256;
    private const int MaxKeyCache = 1024;

    private readonly DpopOptions _options;
    private readonly TimeProvider _time;
    private readonly JwsAlgorithm[] _algorithms;
    private readonly ConcurrentDictionary<string, CachedKey> _keys = new(StringComparer.Ordinal);

    /// <param name="options">The policy; validated.</param>
    /// <param name="time">The clock; null: the system clock.</param>
    /// <param name="replay">The process's replay cache; null: a new one sized by <paramref name="options"/>.</param>
    /// <param name="nonces">The nonce source (shared secret across instances); null: a random secret of this process.</param>
    public DpopProofValidator(DpopOptions options, TimeProvider? time = null, DpopReplayCache? replay = null, DpopNonces? nonces = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _time = time ?? TimeProvider.System;
        _algorithms = options.ParsedAlgorithms();
        Replay = replay ?? new DpopReplayCache(options, _time);
        Nonces = nonces ?? new DpopNonces(RandomNumberGenerator.GetBytes(32), options.NonceLifetime, _time);
        AlgorithmsChallenge = string.Join(' ', _algorithms.Select(a => a == JwsAlgorithm.EdDSA ? "EdDSA Ed25519" : a.Name()));
    }

    /// <summary>The policy in force.</summary>
    public DpopOptions Options => _options;

    /// <summary>The <c>jti</c> cache shared by this process's verifiers.</summary>
    public DpopReplayCache Replay { get; }

    /// <summary>The nonce source.</summary>
    public DpopNonces Nonces { get; }

    /// <summary>The accepted algorithms, space-separated: the <c>algs</c> of a <c>DPoP</c> challenge (RFC 9449 7.1).</summary>
    public string AlgorithmsChallenge { get; }

    /// <summary>The nonce to send in <c>DPoP-Nonce</c>, or null when nonces are not required.</summary>
    public string? CurrentNonce() => _options.RequireNonce ? Nonces.Current() : null;

    /// <summary>
    /// A token request (login, refresh, exchange; RFC 9449 5): without a proof it is accepted unbound unless
    /// <paramref name="required"/>; with one, the proof is checked (no <c>ath</c>, no token yet) and its key's thumbprint
    /// is what to bind to. Off: every proof is ignored.
    /// </summary>
    public DpopProofResult CheckTokenRequest(IReadOnlyList<string?> proofs, string method, string url, bool required)
    {
        ArgumentNullException.ThrowIfNull(proofs);
        if (_options.Mode == DpopMode.Off) return DpopProofResult.Accepted(null);
        if (proofs.Count == 0) return required ? DpopProofResult.Refused(FailureCodes.DpopProofMissing) : DpopProofResult.Accepted(null);
        // RFC 9449 4.3 step 1: exactly one DPoP header field.
        if (proofs.Count > 1) return DpopProofResult.Refused(FailureCodes.DpopProofInvalid);
        return Validate(proofs[0], method, url, accessToken: null, boundThumbprint: null);
    }

    /// <summary>
    /// <see cref="CheckPresentation"/> for the <c>Bearer</c> scheme, which reads no proof: a bound token
    /// (<paramref name="boundThumbprint"/> set) is refused, and an unbound one when <paramref name="required"/>. A handler
    /// calls this for a Bearer request so that it need not build the proof list and target URL that only DPoP reads.
    /// </summary>
    public DpopProofResult CheckBearerPresentation(string? boundThumbprint, bool required)
    {
        // RFC 9449 7.2: a DPoP-bound token presented as a bearer token is refused (no downgrade).
        if (boundThumbprint is not null) return DpopProofResult.Refused(FailureCodes.DpopBoundTokenAsBearer);
        return required ? DpopProofResult.Refused(FailureCodes.DpopRequired) : DpopProofResult.Accepted(null);
    }

    /// <summary>
    /// A resource request carrying an accepted access token. <paramref name="dpopScheme"/>: the Authorization scheme was
    /// <c>DPoP</c> (else <c>Bearer</c>). A bound token (<paramref name="boundThumbprint"/> set) needs the DPoP scheme
    /// and one valid proof by its key, with <c>ath</c> the hash of <paramref name="token"/>; an unbound token is refused
    /// under the DPoP scheme, and under Bearer when <paramref name="required"/>.
    /// </summary>
    public DpopProofResult CheckPresentation(bool dpopScheme, IReadOnlyList<string?> proofs, string method, string url, string token,
        string? boundThumbprint, bool required)
    {
        ArgumentNullException.ThrowIfNull(proofs);
        ArgumentNullException.ThrowIfNull(token);
        if (!dpopScheme) return CheckBearerPresentation(boundThumbprint, required);
        if (_options.Mode == DpopMode.Off) return DpopProofResult.Refused(FailureCodes.ModeNotEnabled);
        // RFC 9449 7.1: the DPoP scheme carries a DPoP-bound token only.
        if (boundThumbprint is null) return DpopProofResult.Refused(FailureCodes.DpopTokenNotBound);
        if (proofs.Count == 0) return DpopProofResult.Refused(FailureCodes.DpopProofMissing);
        // RFC 9449 4.3 step 1: exactly one DPoP header field.
        if (proofs.Count > 1) return DpopProofResult.Refused(FailureCodes.DpopProofInvalid);
        return Validate(proofs[0], method, url, token, boundThumbprint);
    }

    /// <summary>
    /// Checks one proof (RFC 9449 4.3) for a request of <paramref name="method"/> to <paramref name="url"/> (the absolute
    /// URL the server is reached at; query and fragment are ignored). <paramref name="accessToken"/>: the token it must
    /// carry the <c>ath</c> of, or null at a token endpoint. <paramref name="boundThumbprint"/>: the token's
    /// <c>cnf.jkt</c> the proof key must match, or null. Records the <c>jti</c> when every check passed.
    /// </summary>
    public DpopProofResult Validate(string? proof, string method, string url, string? accessToken, string? boundThumbprint)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(url);
        if (string.IsNullOrEmpty(proof)) return DpopProofResult.Refused(FailureCodes.DpopProofMissing);
        if (proof.Length > MaxProofBytes || !Ascii.IsValid(proof)) return DpopProofResult.Refused(FailureCodes.DpopProofInvalid);
        var bytes = Encoding.ASCII.GetBytes(proof);

        // RFC 9449 4.3 step 2: a well-formed JWS compact serialization (canonical base64url, RFC 7515 2).
        int dot1 = Array.IndexOf(bytes, (byte)'.');
        int dot2 = dot1 < 0 ? -1 : Array.IndexOf(bytes, (byte)'.', dot1 + 1);
        if (dot1 <= 0 || dot2 < 0 || dot2 == dot1 + 1 || dot2 == bytes.Length - 1 || Array.IndexOf(bytes, (byte)'.', dot2 + 1) >= 0)
            return DpopProofResult.Refused(FailureCodes.DpopProofInvalid);
        var span = bytes.AsSpan();
        var headerB64 = span[..dot1];
        var payloadB64 = span[(dot1 + 1)..dot2];
        var signatureB64 = span[(dot2 + 1)..];
        if (!Base64UrlStrict.IsCanonical(headerB64) || !Base64UrlStrict.IsCanonical(payloadB64) || !Base64UrlStrict.IsCanonical(signatureB64))
            return DpopProofResult.Refused(FailureCodes.DpopProofInvalid);

        string headerKey = proof[..dot1];
        if (!_keys.TryGetValue(headerKey, out var cached))
        {
            var header = new byte[Base64UrlStrict.DecodedLength(headerB64.Length)];
            if (!Base64UrlStrict.TryDecodeChecked(headerB64, header, out _)) return DpopProofResult.Refused(FailureCodes.DpopProofInvalid);
            var headerFailure = ReadHeader(header, out cached);
            if (headerFailure is not null) return DpopProofResult.Refused(headerFailure);
        }

        // RFC 9449 4.3 step 6: the signature verifies with the public key in the header's jwk.
        var signature = new byte[Base64UrlStrict.DecodedLength(signatureB64.Length)];
        if (signature.Length != cached!.Key.SignatureLength || !Base64UrlStrict.TryDecodeChecked(signatureB64, signature, out _)
            || !cached.Key.Verify(span[..dot2], signature))
            return DpopProofResult.Refused(FailureCodes.DpopBadSignature);
        // Only headers whose signature verified are kept; bounded, so a stream of fresh keys only churns it.
        if (_keys.Count >= MaxKeyCache) _keys.Clear();
        _keys.TryAdd(headerKey, cached);

        var payload = new byte[Base64UrlStrict.DecodedLength(payloadB64.Length)];
        if (!Base64UrlStrict.TryDecodeChecked(payloadB64, payload, out _)) return DpopProofResult.Refused(FailureCodes.DpopProofInvalid);
        var claimsFailure = ReadClaims(payload, out var claims);
        if (claimsFailure is not null) return DpopProofResult.Refused(claimsFailure);

        // RFC 9449 4.3 step 8: htm is the request's method (RFC 9110 9.1: case-sensitive).
        if (!string.Equals(claims.Htm, method, StringComparison.Ordinal)) return DpopProofResult.Refused(FailureCodes.DpopHtmMismatch);
        // RFC 9449 4.3 step 9: htu is the request's URI without query and fragment, after normalisation.
        var expectedHtu = DpopTarget.Normalize(url);
        if (expectedHtu is null || !string.Equals(DpopTarget.Normalize(claims.Htu), expectedHtu, StringComparison.Ordinal))
            return DpopProofResult.Refused(FailureCodes.DpopHtuMismatch);
        // RFC 9449 4.3 step 11, 11.1: iat within the window (too old: a stored proof; too new: a pre-made one).
        long now = _time.GetUtcNow().ToUnixTimeSeconds();
        if (claims.Iat < now - (long)(_options.ProofLifetime + _options.ClockSkew).TotalSeconds || claims.Iat > now + (long)_options.ClockSkew.TotalSeconds)
            return DpopProofResult.Refused(FailureCodes.DpopIatOutOfWindow);
        // RFC 9449 4.3 step 10, 8, 9: when the server asks for nonces, the proof carries a current one.
        if (_options.RequireNonce && !Nonces.IsValid(claims.Nonce)) return DpopProofResult.Refused(FailureCodes.UseDpopNonce);
        if (accessToken is not null)
        {
            // RFC 9449 4.3 step 12, 4.2: ath is base64url(SHA-256(ASCII(access token))).
            if (claims.Ath is null || !string.Equals(claims.Ath, AccessTokenHash(accessToken), StringComparison.Ordinal))
                return DpopProofResult.Refused(FailureCodes.DpopAthMismatch);
        }
        // RFC 9449 4.3 step 12, 6.1: the proof key is the one the token is bound to (cnf.jkt).
        if (boundThumbprint is not null && !string.Equals(boundThumbprint, cached.Thumbprint, StringComparison.Ordinal))
            return DpopProofResult.Refused(FailureCodes.DpopKeyMismatch);
        // RFC 9449 11.1: a jti seen within the window is a replay. Last, so only a proof that passed spends its jti.
        return Replay.TryAdd(cached.Thumbprint, claims.Jti!) switch
        {
            DpopReplayVerdict.New => DpopProofResult.Accepted(cached.Thumbprint),
            DpopReplayVerdict.Replayed => DpopProofResult.Refused(FailureCodes.DpopProofReplayed),
            DpopReplayVerdict.KeyLimited => DpopProofResult.Refused(FailureCodes.DpopKeyRateLimited),
            _ => DpopProofResult.Refused(FailureCodes.DpopReplayCacheFull),
        };
    }

    /// <summary>base64url(SHA-256(ASCII(token))): the <c>ath</c> of a proof sent with <paramref name="accessToken"/> (RFC 9449 4.2).</summary>
    public static string AccessTokenHash(string accessToken)
    {
        ArgumentNullException.ThrowIfNull(accessToken);
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.ASCII.GetBytes(accessToken), digest);
        return Base64UrlStrict.Encode(digest);
    }

    // RFC 9449 4.2 header: typ dpop+jwt, alg an allowed asymmetric algorithm, jwk the public key. crit is refused (no
    // extension is understood, RFC 7515 4.1.11); other members are ignored; duplicates are refused.
    private string? ReadHeader(byte[] json, out CachedKey? key)
    {
        key = null;
        string? typ = null, alg = null;
        Jwk? jwk = null;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return FailureCodes.DpopProofInvalid;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString()!;
                if (!seen.Add(name) || seen.Count > 64) return FailureCodes.DpopProofInvalid;
                reader.Read();
                switch (name)
                {
                    case "typ" when reader.TokenType == JsonTokenType.String: typ = reader.GetString(); break;
                    case "alg" when reader.TokenType == JsonTokenType.String: alg = reader.GetString(); break;
                    case "jwk" when reader.TokenType == JsonTokenType.StartObject: jwk = Jwk.Read(ref reader, 0); break;
                    case "typ" or "alg" or "jwk": return FailureCodes.DpopProofInvalid;
                    case "crit": return FailureCodes.CritUnsupported;
                    default: reader.Skip(); break;
                }
            }
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read()) return FailureCodes.DpopProofInvalid;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyLoadException)
        {
            return FailureCodes.DpopProofInvalid;
        }
        // RFC 9449 4.3 step 4: typ is dpop+jwt (media types are case-insensitive, RFC 7515 4.1.9).
        if (typ is null || !(typ.Equals("dpop+jwt", StringComparison.OrdinalIgnoreCase) || typ.Equals("application/dpop+jwt", StringComparison.OrdinalIgnoreCase)))
            return FailureCodes.DpopBadTyp;
        // RFC 9864 2.2: "Ed25519" is the fully-specified name of EdDSA over Ed25519 (what panva's dpop 2.x writes); the
        // key loader still requires an OKP Ed25519 jwk for it.
        var pinned = alg == "Ed25519" ? "EdDSA" : alg;
        // RFC 9449 4.3 step 5: an asymmetric algorithm this server accepts; never none or a MAC (exact, RFC 7515 4.1.1).
        if (!JwsAlgorithms.TryParse(pinned, out var algorithm) || Array.IndexOf(_algorithms, algorithm) < 0)
            return FailureCodes.DpopAlgNotAllowed;
        if (jwk is null) return FailureCodes.DpopJwkInvalid;
        // RFC 9449 4.3 step 7: the jwk is a public key; private members (or a symmetric key) are refused.
        if (jwk.HasPrivateMaterial || jwk.P is not null || jwk.Q is not null || jwk.DP is not null || jwk.DQ is not null || jwk.QI is not null)
            return FailureCodes.DpopJwkInvalid;
        if (jwk.Alg is not null && jwk.Alg != alg && jwk.Alg != pinned) return FailureCodes.DpopJwkInvalid;
        try
        {
            // The strict loader (curve point, RSA size and exponent, ROCA, canonical base64url) pins the key to alg.
            var signing = SigningKey.FromJwk(new Jwk { Kty = jwk.Kty, Alg = pinned, Use = jwk.Use, KeyOps = jwk.KeyOps, Crv = jwk.Crv, X = jwk.X, Y = jwk.Y, N = jwk.N, E = jwk.E, HasOtherPrimes = jwk.HasOtherPrimes });
            key = new CachedKey(signing, JwkThumbprint.Compute(jwk));
            return null;
        }
        catch (Exception e) when (e is KeyLoadException or ArgumentException)
        {
            return FailureCodes.DpopJwkInvalid;
        }
    }

    // RFC 9449 4.2 payload: jti, htm, htu and iat required; ath and nonce when present. Duplicates refused.
    private static string? ReadClaims(byte[] json, out ProofClaims claims)
    {
        claims = default;
        string? jti = null, htm = null, htu = null, ath = null, nonce = null;
        long iat = long.MinValue;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return FailureCodes.DpopProofInvalid;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString()!;
                if (!seen.Add(name) || seen.Count > 64) return FailureCodes.DpopProofInvalid;
                reader.Read();
                switch (name)
                {
                    case "jti" when reader.TokenType == JsonTokenType.String: jti = reader.GetString(); break;
                    case "htm" when reader.TokenType == JsonTokenType.String: htm = reader.GetString(); break;
                    case "htu" when reader.TokenType == JsonTokenType.String: htu = reader.GetString(); break;
                    case "ath" when reader.TokenType == JsonTokenType.String: ath = reader.GetString(); break;
                    case "nonce" when reader.TokenType == JsonTokenType.String: nonce = reader.GetString(); break;
                    // RFC 7519 2: a NumericDate; fractions truncated.
                    case "iat" when reader.TokenType == JsonTokenType.Number:
                        if (reader.TryGetInt64(out var whole)) iat = whole;
                        else if (reader.TryGetDouble(out var d) && double.IsFinite(d) && d is >= 0 and <= 253402300799) iat = (long)Math.Floor(d);
                        else return FailureCodes.DpopProofInvalid;
                        break;
                    case "jti" or "htm" or "htu" or "ath" or "nonce" or "iat": return FailureCodes.DpopProofInvalid;
                    default: reader.Skip(); break;
                }
            }
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read()) return FailureCodes.DpopProofInvalid;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return FailureCodes.DpopProofInvalid;
        }
        // RFC 9449 4.3 step 3: every required claim is there; jti carries enough to be unique (RFC 9449 4.2).
        if (jti is not { Length: > 0 and <= MaxJtiLength } || htm is not { Length: > 0 } || htu is null || iat == long.MinValue)
            return FailureCodes.DpopProofInvalid;
        claims = new ProofClaims(jti, htm, htu, iat, ath, nonce);
        return null;
    }

    private readonly record struct ProofClaims(string? Jti, string? Htm, string? Htu, long Iat, string? Ath, string? Nonce);

    private sealed record CachedKey(SigningKey Key, string Thumbprint);
}
