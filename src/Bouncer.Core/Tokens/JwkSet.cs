using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Bouncer.Tokens;

/// <summary>
/// An immutable set of <see cref="SigningKey"/>s, loaded strictly from a JWK Set (RFC 7517 5) or built from keys.
/// Refused with a <see cref="KeyLoadException"/>: malformed JSON, duplicate members, any unsafe key (see
/// <see cref="SigningKey.FromJwk"/>), duplicate <c>kid</c>s, more than one key without <c>kid</c>, and sets that mix
/// symmetric with asymmetric keys or private with public keys (Wycheproof "MixedKeySet": such sets blur what may sign).
/// </summary>
/// <example><code>
/// var keys = JwkSet.Parse(File.ReadAllText("keys.json"));
/// var verifier = new JwsVerifier(keys, new VerifyOptions { Issuer = "https://id.example", Audience = "api" });
/// </code></example>
public sealed class JwkSet : IKeySource
{
    private readonly KeySnapshot _snapshot;

    private JwkSet(SigningKey[] keys)
    {
        Keys = keys;
        _snapshot = new KeySnapshot(keys);
    }

    /// <summary>The keys, in file order.</summary>
    public IReadOnlyList<SigningKey> Keys { get; }

    KeySnapshot IKeySource.GetSnapshot() => _snapshot;

    /// <summary>Builds a set from keys, applying the set rules (unique kids, no mixing).</summary>
    public static JwkSet Create(IEnumerable<SigningKey> keys)
    {
        var array = keys.ToArray();
        Validate(array);
        return new JwkSet(array);
    }

    /// <summary>Parses a JWK Set document <c>{"keys":[...]}</c>. Other top-level members are ignored.</summary>
    /// <exception cref="KeyLoadException">The document or a key in it is refused; the message names the key and the rule.</exception>
    public static JwkSet Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var bytes = Encoding.UTF8.GetBytes(json);
        var jwks = new List<Jwk>();
        try
        {
            var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = 16 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw new KeyLoadException("malformed_jwks", "a JWK set is a JSON object with a 'keys' array");
            bool sawKeys = false;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                string name = reader.GetString()!;
                if (!seen.Add(name))
                    throw new KeyLoadException("duplicate_member", $"the JWK set has member '{name}' twice");
                reader.Read();
                if (name != "keys")
                {
                    reader.Skip();
                    continue;
                }
                sawKeys = true;
                if (reader.TokenType != JsonTokenType.StartArray)
                    throw new KeyLoadException("malformed_jwks", "'keys' is not an array");
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    jwks.Add(Jwk.Read(ref reader, jwks.Count));
            }
            if (!sawKeys) throw new KeyLoadException("malformed_jwks", "the JWK set has no 'keys' array");
            if (reader.Read()) throw new KeyLoadException("malformed_jwks", "trailing content after the JWK set");
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a string the reader cannot transcode (e.g. a lone surrogate escape).
            throw new KeyLoadException("malformed_jwks", $"the JWK set is not valid JSON: {ex.Message}", ex);
        }
        if (jwks.Count == 0) throw new KeyLoadException("empty_jwks", "the JWK set holds no keys");
        return Create(jwks.Select(SigningKey.FromJwk));
    }

    /// <summary>The private JWK set (secret material included): for <see cref="IKeyStore"/>, never for publication.</summary>
    public string ToPrivateJson() => Write(Keys, includePrivate: true);

    /// <summary>The public JWKS for publication: public halves only.</summary>
    /// <exception cref="InvalidOperationException">The set holds <c>oct</c> keys, which are secret and never published.</exception>
    public string ToPublicJson()
    {
        if (Keys.Any(k => k.IsSymmetric))
            throw new InvalidOperationException("the set holds oct (HMAC) keys: they are secret and have no public JWKS");
        return Write(Keys, includePrivate: false);
    }

    internal static string Write(IEnumerable<SigningKey> keys, bool includePrivate, Action<Utf8JsonWriter>? extra = null)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("keys");
            foreach (var key in keys)
                key.ToJwk(includePrivate).WriteTo(writer, includePrivate);
            writer.WriteEndArray();
            extra?.Invoke(writer);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    internal static void Validate(SigningKey[] keys)
    {
        var kids = new HashSet<string>(StringComparer.Ordinal);
        int withoutKid = 0;
        foreach (var key in keys)
        {
            if (key.KeyId is null) withoutKid++;
            else if (!kids.Add(key.KeyId))
                throw new KeyLoadException("duplicate_kid", $"kid '{key.KeyId}' appears more than once");
        }
        if (withoutKid > 0 && keys.Length > 1)
            throw new KeyLoadException("missing_kid", "a set of more than one key needs a kid on every key");
        if (keys.Any(k => k.IsSymmetric) && keys.Any(k => !k.IsSymmetric))
            throw new KeyLoadException("mixed_key_set", "the set mixes symmetric (oct) and asymmetric keys");
        if (keys.Any(k => !k.IsSymmetric && k.CanSign) && keys.Any(k => !k.IsSymmetric && !k.CanSign))
            throw new KeyLoadException("mixed_key_set", "the set mixes private and public-only keys");
    }
}

/// <summary>Where a verifier gets its keys: a fixed <see cref="JwkSet"/> or a rotating <see cref="KeyRing"/>.</summary>
public interface IKeySource
{
    internal KeySnapshot GetSnapshot();
}

/// <summary>
/// The keys a verifier consults for one call, plus a small cache of header segments already parsed against them.
/// Only headers of tokens whose signature verified are remembered, and at most <see cref="MaxHeaders"/>, so a
/// stranger can neither fill nor churn the cache.
/// </summary>
internal sealed class KeySnapshot(SigningKey[] keys)
{
    private const int MaxHeaders = 8;

    private (byte[] Segment, JwsVerifier.HeaderInfo Header)[] _headers = [];

    public SigningKey[] Keys { get; } = keys;

    public bool TryGetHeader(ReadOnlySpan<byte> segment, out JwsVerifier.HeaderInfo header)
    {
        foreach (var (cached, info) in Volatile.Read(ref _headers))
        {
            if (segment.SequenceEqual(cached))
            {
                header = info;
                return true;
            }
        }
        header = default;
        return false;
    }

    public void RememberHeader(ReadOnlySpan<byte> segment, JwsVerifier.HeaderInfo header)
    {
        var current = Volatile.Read(ref _headers);
        if (current.Length >= MaxHeaders || segment.Length > 512) return;
        foreach (var (cached, _) in current)
            if (segment.SequenceEqual(cached)) return;
        // Copy-on-write; a lost race only drops one cache entry.
        Interlocked.CompareExchange(ref _headers, [.. current, (segment.ToArray(), header)], current);
    }
}
