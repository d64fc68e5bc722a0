using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Bouncer.Tokens;

/// <summary>Settings for a <see cref="JwsIssuer"/>.</summary>
public sealed class IssueOptions
{
    /// <summary>The <c>iss</c> written into every token. Required.</summary>
    public required string Issuer { get; init; }

    /// <summary>The <c>aud</c> written into every token. Required.</summary>
    public required string Audience { get; init; }

    /// <summary>Lifetime when the caller gives none. Default 10 minutes.</summary>
    public TimeSpan DefaultLifetime { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>The longest lifetime a caller may ask for. Default 1 hour. A <see cref="KeyRing"/> keeps retired keys this long.</summary>
    public TimeSpan MaxLifetime { get; init; } = TimeSpan.FromHours(1);
}

/// <summary>A request for one access token.</summary>
public sealed class TokenRequest
{
    /// <summary>The <c>sub</c>: who the token is about. Required.</summary>
    public required string Subject { get; init; }

    /// <summary>The <c>sid</c>: the session the token belongs to, or null.</summary>
    public string? SessionId { get; init; }

    /// <summary>Lifetime; null for <see cref="IssueOptions.DefaultLifetime"/>. Must be positive and at most the maximum.</summary>
    public TimeSpan? Lifetime { get; init; }

    /// <summary>The <c>roles</c> claim (RFC 9068 2.2.3.1), omitted when null or empty.</summary>
    public IReadOnlyList<string>? Roles { get; init; }

    /// <summary>The <c>scope</c> claim (RFC 9068 2.2.3), omitted when null.</summary>
    public string? Scope { get; init; }

    /// <summary>
    /// The <c>jti</c>; null draws 128 random bits. Set by the refresh service so that a replay within
    /// its grace window mints a token with the same claims.
    /// </summary>
    public string? JwtId { get; init; }

    /// <summary>The <c>iat</c> (and start of the lifetime); null means now.</summary>
    public DateTimeOffset? IssuedAt { get; init; }

    /// <summary>The <c>aud</c>; null means the issuer's configured audience (hybrid exchange names a downstream one).</summary>
    public string? Audience { get; init; }

    /// <summary>
    /// The <c>auth_time</c> (OpenID Connect Core 1.0 2): when the user last proved the password, written as whole unix
    /// seconds; omitted when null. A resource server asks for a fresh login (step-up) when it is too old.
    /// </summary>
    public DateTimeOffset? AuthTime { get; init; }

    /// <summary>
    /// The RFC 7638 thumbprint of the client's DPoP key, written as <c>cnf.jkt</c> (RFC 9449 6.1): the token is then
    /// usable only with a proof by that key. Null: an unbound bearer token.
    /// </summary>
    public string? ConfirmationKeyThumbprint { get; init; }
}

/// <summary>
/// Issues RFC 9068 access tokens: header <c>{"alg","typ":"at+jwt","kid"}</c>, claims iss, sub, aud, exp, iat, jti and
/// the optional sid, roles, scope and auth_time. Signs with the current key of a <see cref="KeyRing"/> or one fixed key.
/// Thread-safe.
/// </summary>
/// <example><code>
/// var issuer = new JwsIssuer(ring, new IssueOptions { Issuer = "https://id.example", Audience = "api" }, TimeProvider.System);
/// string token = issuer.Issue(new TokenRequest { Subject = "user-42", SessionId = sid });
/// </code></example>
public sealed class JwsIssuer
{
    private readonly Func<DateTimeOffset, SigningKey> _currentKey;
    private readonly IssueOptions _options;
    private readonly TimeProvider _time;

    [ThreadStatic] private static ArrayBufferWriter<byte>? t_buffer;
    [ThreadStatic] private static Utf8JsonWriter? t_writer;

    /// <summary>Signs with a fixed key, which must be able to sign.</summary>
    public JwsIssuer(SigningKey key, IssueOptions options, TimeProvider? timeProvider = null)
        : this(_ => key, options, timeProvider)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!key.CanSign) throw new ArgumentException($"{key} cannot sign", nameof(key));
    }

    /// <summary>Signs with the ring's current signing key at the time of each call.</summary>
    public JwsIssuer(KeyRing ring, IssueOptions options, TimeProvider? timeProvider = null)
        : this(ring is null ? throw new ArgumentNullException(nameof(ring)) : ring.GetSigningKey, options, timeProvider)
    {
        if (options.MaxLifetime > ring.Options.MaxTokenLifetime)
            throw new ArgumentException("MaxLifetime exceeds the ring's MaxTokenLifetime: retired keys would vanish before their tokens expire", nameof(options));
    }

    private JwsIssuer(Func<DateTimeOffset, SigningKey> currentKey, IssueOptions options, TimeProvider? timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrEmpty(options.Issuer) || string.IsNullOrEmpty(options.Audience))
            throw new ArgumentException("Issuer and Audience are required", nameof(options));
        if (options.DefaultLifetime <= TimeSpan.Zero || options.DefaultLifetime > options.MaxLifetime)
            throw new ArgumentException("DefaultLifetime must be positive and at most MaxLifetime", nameof(options));
        _currentKey = currentKey;
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Issues a signed compact JWS.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The lifetime is not positive or exceeds <see cref="IssueOptions.MaxLifetime"/>.</exception>
    public string Issue(TokenRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrEmpty(request.Subject);
        var lifetime = request.Lifetime ?? _options.DefaultLifetime;
        if (lifetime <= TimeSpan.Zero || lifetime > _options.MaxLifetime)
            throw new ArgumentOutOfRangeException(nameof(request), lifetime, $"lifetime must be positive and at most {_options.MaxLifetime}");
        var now = _time.GetUtcNow();
        var key = _currentKey(now);
        long iat = (request.IssuedAt ?? now).ToUnixTimeSeconds();
        long exp = iat + (long)Math.Ceiling(lifetime.TotalSeconds);

        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        // The relaxed encoder writes "at+jwt" rather than "at\u002Bjwt": both are valid JSON, the plain one is what
        // verifiers comparing raw header text expect. Tokens are never embedded in HTML, where it would matter.
        var writer = t_writer ??= new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        writer.Reset(buffer);
        writer.WriteStartObject();
        writer.WriteString("alg"u8, key.Algorithm.Name());
        writer.WriteString("typ"u8, "at+jwt"u8);
        if (key.KeyId is not null) writer.WriteString("kid"u8, key.KeyId);
        writer.WriteEndObject();
        writer.Flush();
        int headerLength = buffer.WrittenCount;

        Span<byte> jti = stackalloc byte[16];
        if (request.JwtId is null) RandomNumberGenerator.Fill(jti);
        writer.Reset(buffer);
        writer.WriteStartObject();
        writer.WriteString("iss"u8, _options.Issuer);
        writer.WriteString("sub"u8, request.Subject);
        writer.WriteString("aud"u8, request.Audience ?? _options.Audience);
        writer.WriteNumber("exp"u8, exp);
        writer.WriteNumber("iat"u8, iat);
        if (request.JwtId is not null) writer.WriteString("jti"u8, request.JwtId);
        else writer.WriteString("jti"u8, Base64Url.EncodeToString(jti));
        if (request.SessionId is not null) writer.WriteString("sid"u8, request.SessionId);
        if (request.Roles is { Count: > 0 })
        {
            writer.WriteStartArray("roles"u8);
            foreach (var role in request.Roles) writer.WriteStringValue(role);
            writer.WriteEndArray();
        }
        if (request.Scope is not null) writer.WriteString("scope"u8, request.Scope);
        if (request.AuthTime is { } authTime) writer.WriteNumber("auth_time"u8, authTime.ToUnixTimeSeconds());
        if (request.ConfirmationKeyThumbprint is { } jkt)
        {
            // RFC 9449 6.1: the JWK SHA-256 thumbprint confirmation method.
            writer.WriteStartObject("cnf"u8);
            writer.WriteString("jkt"u8, jkt);
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
        writer.Flush();

        var json = buffer.WrittenSpan;
        var header = json[..headerLength];
        var payload = json[headerLength..];
        int headerB64 = Base64Url.GetEncodedLength(header.Length);
        int payloadB64 = Base64Url.GetEncodedLength(payload.Length);
        int signatureB64 = Base64Url.GetEncodedLength(key.SignatureLength);
        int total = headerB64 + 1 + payloadB64 + 1 + signatureB64;
        byte[] rented = ArrayPool<byte>.Shared.Rent(total);
        try
        {
            var token = rented.AsSpan(0, total);
            Base64Url.EncodeToUtf8(header, token, out _, out _);
            token[headerB64] = (byte)'.';
            Base64Url.EncodeToUtf8(payload, token[(headerB64 + 1)..], out _, out _);
            int signingInputLength = headerB64 + 1 + payloadB64;
            token[signingInputLength] = (byte)'.';
            Span<byte> signature = stackalloc byte[1024];
            int signatureLength = key.Sign(token[..signingInputLength], signature);
            Base64Url.EncodeToUtf8(signature[..signatureLength], token[(signingInputLength + 1)..], out _, out int sigWritten);
            return System.Text.Encoding.ASCII.GetString(token[..(signingInputLength + 1 + sigWritten)]);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
