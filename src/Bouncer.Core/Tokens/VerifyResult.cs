using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Bouncer.Tokens;

/// <summary>
/// The outcome of <see cref="JwsVerifier.Verify(ReadOnlySpan{byte})"/>. A ref struct over the caller's token so the
/// valid path allocates nothing: it lives only as long as the token it was read from. Claims are read on demand
/// (each call decodes the payload again and allocates the returned string); <see cref="ToClaims"/> copies them all
/// into a heap object that may outlive the call.
/// </summary>
public readonly ref struct VerifyResult
{
    private readonly ReadOnlySpan<byte> _payloadUtf8;
    private readonly ReadOnlySpan<char> _payloadChars;
    private readonly long _exp;
    private readonly long _iat;
    private readonly long _nbf;
    private readonly long _authTime;

    internal VerifyResult(VerifyFailure failure) => Failure = failure;

    internal VerifyResult(ReadOnlySpan<byte> payloadUtf8, ReadOnlySpan<char> payloadChars, SigningKey key, ClaimTimes times)
    {
        Failure = VerifyFailure.None;
        _payloadUtf8 = payloadUtf8;
        _payloadChars = payloadChars;
        Key = key;
        _exp = times.Exp;
        _iat = times.Iat;
        _nbf = times.Nbf;
        _authTime = times.AuthTime;
    }

    /// <summary>Why the token was refused; <see cref="VerifyFailure.None"/> when valid.</summary>
    public VerifyFailure Failure { get; }

    /// <summary>True when the token passed every check.</summary>
    public bool IsValid => Failure == VerifyFailure.None;

    /// <summary>The key that verified the token; null when invalid.</summary>
    public SigningKey? Key { get; }

    /// <summary><c>exp</c> of a valid token.</summary>
    public DateTimeOffset ExpiresAt => DateTimeOffset.FromUnixTimeSeconds(RequireValid()._exp);

    /// <summary><c>iat</c> of a valid token, or null when absent.</summary>
    public DateTimeOffset? IssuedAt => RequireValid()._iat < 0 ? null : DateTimeOffset.FromUnixTimeSeconds(_iat);

    /// <summary><c>nbf</c> of a valid token, or null when absent.</summary>
    public DateTimeOffset? NotBefore => RequireValid()._nbf < 0 ? null : DateTimeOffset.FromUnixTimeSeconds(_nbf);

    /// <summary><c>auth_time</c> of a valid token (OpenID Connect Core 1.0 2: when the user last proved the password), or null when absent.</summary>
    public DateTimeOffset? AuthTime => RequireValid()._authTime < 0 ? null : DateTimeOffset.FromUnixTimeSeconds(_authTime);

    /// <summary>The <c>sub</c> claim, or null when absent or not a string.</summary>
    public string? GetSubject() => GetStringClaim("sub"u8);

    /// <summary>The <c>jti</c> claim, or null.</summary>
    public string? GetJwtId() => GetStringClaim("jti"u8);

    /// <summary>The <c>sid</c> claim (the session this token belongs to), or null.</summary>
    public string? GetSessionId() => GetStringClaim("sid"u8);

    /// <summary>The <c>scope</c> claim, or null.</summary>
    public string? GetScope() => GetStringClaim("scope"u8);

    /// <summary>A top-level string claim by name, or null when absent or not a string.</summary>
    public string? GetStringClaim(string name) => GetStringClaim(Encoding.UTF8.GetBytes(name));

    /// <summary>The decoded payload JSON.</summary>
    public string GetPayloadJson()
    {
        RequireValid();
        using var payload = DecodePayload();
        return Encoding.UTF8.GetString(payload.Span);
    }

    /// <summary>
    /// The claims an authentication handler puts on a principal, read in one pass over the payload without
    /// allocating property names (cheaper than <see cref="ToClaims"/> on every request).
    /// </summary>
    /// <exception cref="InvalidOperationException">The result is not valid.</exception>
    public AccessClaims GetAccessClaims()
    {
        RequireValid();
        using var payload = DecodePayload();
        return ReadAccessClaims(payload.Span, _iat, _authTime);
    }

    // The one reading of the access claims, on a payload that passed the verifier's walk (valid UTF-8 JSON, every
    // string text): from the decoded payload here, or from the verifier's own buffer (JwsVerifier.VerifyAccess).
    internal static AccessClaims ReadAccessClaims(ReadOnlySpan<byte> payloadJson, long iat, long authTime)
    {
        string? sub = null, jti = null, sid = null, scope = null, jkt = null;
        List<string>? roles = null;
        var reader = new Utf8JsonReader(payloadJson);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            ref string? target = ref sub;
            bool isRoles = false, known = true;
            if (reader.ValueTextEquals("sub"u8)) target = ref sub;
            else if (reader.ValueTextEquals("jti"u8)) target = ref jti;
            else if (reader.ValueTextEquals("sid"u8)) target = ref sid;
            else if (reader.ValueTextEquals("scope"u8)) target = ref scope;
            else if (reader.ValueTextEquals("roles"u8)) isRoles = true;
            else if (reader.ValueTextEquals("cnf"u8))
            {
                reader.Read();
                jkt = ReadConfirmation(ref reader);
                continue;
            }
            else known = false;
            reader.Read();
            if (isRoles) ReadStrings(ref reader, roles = []);
            else if (known && reader.TokenType == JsonTokenType.String) target = reader.GetString();
            else reader.Skip();
        }
        return new AccessClaims(sub, sid, jti, scope, roles ?? (IReadOnlyList<string>)[], iat)
        {
            AuthTimeUnixSeconds = authTime < 0 ? null : authTime,
            ConfirmationKeyThumbprint = jkt,
        };
    }

    // RFC 9449 6.1: cnf is an object whose jkt is a string. Any other shape still marks the token as bound, to a
    // thumbprint no key has (""), so it is refused both as a bearer token and with any proof.
    private static string ReadConfirmation(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return "";
        }
        string? jkt = null;
        bool malformed = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool isJkt = reader.ValueTextEquals("jkt"u8);
            reader.Read();
            if (isJkt && reader.TokenType == JsonTokenType.String && jkt is null) jkt = reader.GetString();
            else if (isJkt) malformed = true;
            reader.Skip();
        }
        return malformed || jkt is null ? "" : jkt;
    }

    /// <summary>Copies every modelled claim into a <see cref="JwtClaims"/> that may outlive the token.</summary>
    /// <exception cref="InvalidOperationException">The result is not valid.</exception>
    public JwtClaims ToClaims()
    {
        RequireValid();
        using var payload = DecodePayload();
        string? iss = null, sub = null, jti = null, sid = null, scope = null;
        var audiences = new List<string>();
        var roles = new List<string>();
        var reader = new Utf8JsonReader(payload.Span);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string name = reader.GetString()!;
            reader.Read();
            switch (name)
            {
                case "iss" when reader.TokenType == JsonTokenType.String: iss = reader.GetString(); break;
                case "sub" when reader.TokenType == JsonTokenType.String: sub = reader.GetString(); break;
                case "jti" when reader.TokenType == JsonTokenType.String: jti = reader.GetString(); break;
                case "sid" when reader.TokenType == JsonTokenType.String: sid = reader.GetString(); break;
                case "scope" when reader.TokenType == JsonTokenType.String: scope = reader.GetString(); break;
                case "aud": ReadStrings(ref reader, audiences); break;
                case "roles": ReadStrings(ref reader, roles); break;
                default: reader.Skip(); break;
            }
        }
        return new JwtClaims
        {
            Issuer = iss!, Audiences = audiences, Subject = sub, JwtId = jti, SessionId = sid, Scope = scope, Roles = roles,
            ExpiresAt = ExpiresAt, IssuedAt = IssuedAt, NotBefore = NotBefore, AuthTime = AuthTime, PayloadJson = Encoding.UTF8.GetString(payload.Span),
        };
    }

    private static void ReadStrings(ref Utf8JsonReader reader, List<string> into)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            into.Add(reader.GetString()!);
            return;
        }
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return;
        }
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType == JsonTokenType.String) into.Add(reader.GetString()!);
            else reader.Skip();
        }
    }

    private string? GetStringClaim(ReadOnlySpan<byte> name)
    {
        RequireValid();
        using var payload = DecodePayload();
        var reader = new Utf8JsonReader(payload.Span);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool match = reader.ValueTextEquals(name);
            reader.Read();
            if (match) return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            reader.Skip();
        }
        return null;
    }

    private VerifyResult RequireValid()
    {
        if (!IsValid) throw new InvalidOperationException($"the token is not valid ({Failure.ToCode()}): it has no claims");
        return this;
    }

    // The payload was decoded and checked during Verify; decoding it again cannot fail.
    private PooledBytes DecodePayload()
    {
        int length = Base64UrlStrict.DecodedLength(Math.Max(_payloadUtf8.Length, _payloadChars.Length));
        var pooled = new PooledBytes(length);
        int written;
        bool ok = _payloadChars.IsEmpty
            ? Base64UrlStrict.TryDecode(_payloadUtf8, pooled.Array, out written)
            : Base64UrlStrict.TryDecode(_payloadChars, pooled.Array, out written);
        if (!ok) throw new InvalidOperationException("payload changed after verification");
        pooled.Length = written;
        return pooled;
    }

    private ref struct PooledBytes(int size)
    {
        public byte[] Array = ArrayPool<byte>.Shared.Rent(Math.Max(size, 1));
        public int Length;
        public readonly ReadOnlySpan<byte> Span => Array.AsSpan(0, Length);
        public readonly void Dispose() => ArrayPool<byte>.Shared.Return(Array);
    }
}

/// <summary>The numeric dates read during verification; -1 when absent.</summary>
internal struct ClaimTimes
{
    public long Exp;
    public long Iat;
    public long Nbf;
    public long AuthTime;
}
