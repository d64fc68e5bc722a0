using System.Text;
using System.Text.Json;

namespace Bouncer.Tokens;

public sealed partial class JwsVerifier
{
    private enum TypState { Absent, AccessToken, Wrong }

    // Header members are a closed set: alg, kid, typ. Everything else is refused rather than ignored, since a
    // member we do not understand may change how the token should be read (RFC 8725 3.1, 3.11).
    private static VerifyFailure ReadHeader(ReadOnlySpan<byte> json, SigningKey[] keys, byte[][] acceptedTypes,
        out JwsAlgorithm alg, out int keyIndex, out bool hasKid, out TypState typ)
    {
        alg = 0;
        keyIndex = -1;
        hasKid = false;
        typ = TypState.Absent;
        bool hasAlg = false;
        // Depth 1 is enough: every accepted member is a string.
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 2 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return VerifyFailure.Malformed;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("alg"u8))
            {
                if (hasAlg || !reader.Read() || reader.TokenType != JsonTokenType.String) return VerifyFailure.Malformed;
                hasAlg = true;
                alg = JwsAlgorithms.Match(ref reader);
            }
            else if (reader.ValueTextEquals("kid"u8))
            {
                if (hasKid || !reader.Read() || reader.TokenType != JsonTokenType.String) return VerifyFailure.Malformed;
                hasKid = true;
                // Linear scan: key sets are small, and this compares escaped JSON text against the kid without allocating.
                for (int i = 0; i < keys.Length; i++)
                {
                    if (keys[i].KeyIdUtf8 is { } kid && reader.ValueTextEquals(kid))
                    {
                        keyIndex = i;
                        break;
                    }
                }
            }
            else if (reader.ValueTextEquals("typ"u8))
            {
                if (typ != TypState.Absent || !reader.Read() || reader.TokenType != JsonTokenType.String) return VerifyFailure.Malformed;
                typ = IsAccessTokenType(ref reader, acceptedTypes) ? TypState.AccessToken : TypState.Wrong;
            }
            else if (reader.ValueTextEquals("crit"u8))
            {
                return VerifyFailure.CritUnsupported;
            }
            else if (reader.ValueTextEquals("jku"u8) || reader.ValueTextEquals("x5u"u8) || reader.ValueTextEquals("jwk"u8) || reader.ValueTextEquals("x5c"u8))
            {
                // A key named by the token is chosen by the attacker: never fetched, never trusted.
                return VerifyFailure.UntrustedKeyHeader;
            }
            else
            {
                return VerifyFailure.UnsupportedHeader;
            }
        }
        if (reader.TokenType != JsonTokenType.EndObject) return VerifyFailure.Malformed;
        // Throws JsonException on trailing content; caught at the boundary.
        if (reader.Read()) return VerifyFailure.Malformed;
        return VerifyFailure.None;
    }

    // RFC 9068 2.1: "at+jwt"; RFC 7515 4.1.9: the "application/" prefix may be present, media types are case-insensitive.
    // acceptedTypes: the verifier's configured extra values (VerifyOptions.AcceptedTypes), matched exactly but for case.
    private static bool IsAccessTokenType(ref Utf8JsonReader reader, byte[][] acceptedTypes)
    {
        Span<byte> value = stackalloc byte[32];
        int length;
        if (reader.ValueIsEscaped)
        {
            if (reader.ValueSpan.Length > 6 * value.Length) return false;
            Span<byte> unescaped = stackalloc byte[6 * 32];
            length = reader.CopyString(unescaped);
            if (length > value.Length) return false;
            unescaped[..length].CopyTo(value);
        }
        else
        {
            if (reader.ValueSpan.Length > value.Length) return false;
            reader.ValueSpan.CopyTo(value);
            length = reader.ValueSpan.Length;
        }
        var typ = value[..length];
        if (Ascii.EqualsIgnoreCase(typ, "at+jwt"u8) || Ascii.EqualsIgnoreCase(typ, "application/at+jwt"u8)) return true;
        foreach (var accepted in acceptedTypes)
            if (Ascii.EqualsIgnoreCase(typ, accepted)) return true;
        return false;
    }

    private VerifyFailure ReadClaims(Span<byte> json, out ClaimTimes times)
    {
        times = new ClaimTimes { Exp = -1, Iat = -1, Nbf = -1 };
        bool issuerOk = false, audienceOk = false;
        int maxDepth = _options.MaxJsonDepth;
        // Duplicate-member check: names seen in each open object, as (offset, length) into json or into the
        // unescape area after it. objectStarts[d] is where the names of the object at depth d begin.
        Span<int> names = stackalloc int[2 * MaxPayloadMembers];
        Span<int> objectStarts = stackalloc int[maxDepth + 1];
        int nameCount = 0, openObjects = 0;
        byte[]? unescapeArea = null;
        int unescapeUsed = 0;

        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = maxDepth + 1 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return VerifyFailure.Malformed;
        objectStarts[openObjects++] = 0;
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                case JsonTokenType.StartArray:
                    // The cap applies before the nested content is read: nesting costs nothing beyond this depth.
                    if (reader.CurrentDepth + 1 > maxDepth) return VerifyFailure.TooDeep;
                    if (reader.TokenType == JsonTokenType.StartObject) objectStarts[openObjects++] = nameCount;
                    break;
                case JsonTokenType.EndObject:
                    nameCount = objectStarts[--openObjects];
                    break;
                case JsonTokenType.PropertyName:
                {
                    if (nameCount == MaxPayloadMembers) return VerifyFailure.Malformed;
                    int offset, length;
                    ReadOnlySpan<byte> name;
                    if (!reader.ValueIsEscaped)
                    {
                        offset = (int)reader.TokenStartIndex + 1;
                        length = reader.ValueSpan.Length;
                        name = reader.ValueSpan;
                    }
                    else
                    {
                        unescapeArea ??= new byte[json.Length];
                        length = reader.CopyString(unescapeArea.AsSpan(unescapeUsed));
                        offset = json.Length + unescapeUsed;
                        name = unescapeArea.AsSpan(unescapeUsed, length);
                        unescapeUsed += length;
                    }
                    for (int i = objectStarts[openObjects - 1]; i < nameCount; i++)
                    {
                        int o = names[2 * i];
                        var seen = o < json.Length ? json.Slice(o, names[2 * i + 1]) : unescapeArea.AsSpan(o - json.Length, names[2 * i + 1]);
                        if (seen.SequenceEqual(name)) return VerifyFailure.Malformed;
                    }
                    names[2 * nameCount] = offset;
                    names[2 * nameCount + 1] = length;
                    nameCount++;
                    if (reader.CurrentDepth == 1)
                    {
                        var failure = ReadTopLevelClaim(ref reader, name, ref times, ref issuerOk, ref audienceOk);
                        if (failure != VerifyFailure.None) return failure;
                    }
                    break;
                }
            }
        }

        long now = _time.GetUtcNow().ToUnixTimeSeconds();
        if (times.Exp < 0) return VerifyFailure.MissingExp;
        // RFC 7519 4.1.4: the current time must be before exp; the skew absorbs clock drift.
        if (now >= times.Exp + _skewSeconds) return VerifyFailure.TokenExpired;
        if (times.Nbf >= 0 && now + _skewSeconds < times.Nbf) return VerifyFailure.NotYetValid;
        if (times.Iat >= 0 && now + _skewSeconds < times.Iat) return VerifyFailure.IssuedInFuture;
        if (!issuerOk) return VerifyFailure.BadIssuer;
        if (!audienceOk) return VerifyFailure.BadAudience;
        return VerifyFailure.None;
    }

    // The reader sits on a top-level property name; reads the claims Bouncer checks, leaves the rest to the walk.
    private VerifyFailure ReadTopLevelClaim(ref Utf8JsonReader reader, ReadOnlySpan<byte> name, ref ClaimTimes times, ref bool issuerOk, ref bool audienceOk)
    {
        if (name.SequenceEqual("exp"u8)) return ReadNumericDate(ref reader, out times.Exp);
        if (name.SequenceEqual("nbf"u8)) return ReadNumericDate(ref reader, out times.Nbf);
        if (name.SequenceEqual("iat"u8)) return ReadNumericDate(ref reader, out times.Iat);
        if (name.SequenceEqual("iss"u8))
        {
            reader.Read();
            // Exact comparison of the unescaped value (RFC 7519 4.1.1: case-sensitive StringOrURI).
            if (reader.TokenType != JsonTokenType.String) return VerifyFailure.BadIssuer;
            issuerOk = reader.ValueTextEquals(_issuerUtf8);
            return VerifyFailure.None;
        }
        if (name.SequenceEqual("aud"u8))
        {
            reader.Read();
            if (reader.TokenType == JsonTokenType.String)
            {
                audienceOk = reader.ValueTextEquals(_audienceUtf8);
                return VerifyFailure.None;
            }
            if (reader.TokenType != JsonTokenType.StartArray) return VerifyFailure.BadAudience;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                // RFC 7519 4.1.3: an array of case-sensitive strings; anything else is not an audience.
                if (reader.TokenType != JsonTokenType.String) return VerifyFailure.BadAudience;
                audienceOk |= reader.ValueTextEquals(_audienceUtf8);
            }
            return VerifyFailure.None;
        }
        return VerifyFailure.None;
    }

    // RFC 7519 2: a NumericDate is a JSON number of seconds; fractions are allowed and truncated.
    private static VerifyFailure ReadNumericDate(ref Utf8JsonReader reader, out long value)
    {
        value = -1;
        reader.Read();
        if (reader.TokenType != JsonTokenType.Number) return VerifyFailure.BadDate;
        if (reader.TryGetInt64(out long whole))
        {
            value = whole;
        }
        else if (reader.TryGetDouble(out double fractional) && double.IsFinite(fractional) && fractional >= 0 && fractional <= MaxNumericDate)
        {
            value = (long)Math.Floor(fractional);
        }
        else
        {
            return VerifyFailure.BadDate;
        }
        return value is < 0 or > MaxNumericDate ? VerifyFailure.BadDate : VerifyFailure.None;
    }
}
