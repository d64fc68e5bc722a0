using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Bouncer.Tokens;

public sealed partial class JwsVerifier
{
    // AcceptedExtra: a typ admitted only by this verifier's VerifyOptions.AcceptedTypes. The other states depend on
    // the header alone, so only they may enter the header cache, which every verifier over the same keys shares.
    internal enum TypState { Absent, AccessToken, Wrong, AcceptedExtra }

    /// <summary>What the header says, once parsed.</summary>
    internal readonly record struct HeaderInfo(JwsAlgorithm Algorithm, int KeyIndex, bool HasKid, TypState Typ);

    // The header object is depth 1, as for the payload; unknown members may nest up to the payload's default cap. Fixed,
    // not VerifyOptions.MaxJsonDepth: parsed headers are cached for every verifier over the same keys.
    private const int MaxHeaderDepth = 8;

    // alg, kid and typ are read; crit, key-bearing members and those that change how the token is read (b64, zip, enc)
    // are refused; any other member is ignored (RFC 8725 3.1, 3.11), its JSON still checked, bounded and free of duplicates.
    private static VerifyFailure ReadHeader(ReadOnlySpan<byte> json, SigningKey[] keys, byte[][] acceptedTypes, out HeaderInfo header)
    {
        header = default;
        var failure = ReadHeader(json, keys, acceptedTypes, out var alg, out int keyIndex, out bool hasKid, out var typ);
        header = new HeaderInfo(alg, keyIndex, hasKid, typ);
        return failure;
    }

    private static VerifyFailure ReadHeader(ReadOnlySpan<byte> json, SigningKey[] keys, byte[][] acceptedTypes,
        out JwsAlgorithm alg, out int keyIndex, out bool hasKid, out TypState typ)
    {
        alg = 0;
        keyIndex = -1;
        hasKid = false;
        typ = TypState.Absent;
        bool hasAlg = false;
        // Duplicate check for the ignored members, as in ReadClaims: (offset, length, hash) per name, offsets into json
        // or into the unescape area after it; objectStarts[d] is where the names of the object at depth d begin.
        Span<int> names = stackalloc int[3 * 16];
        int[]? rentedNames = null;
        Span<int> objectStarts = stackalloc int[MaxHeaderDepth + 1];
        int nameCount = 0, openObjects = 0;
        byte[]? unescapeArea = null;
        int unescapeUsed = 0;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = MaxHeaderDepth + 1 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return VerifyFailure.Malformed;
            objectStarts[openObjects++] = 0;
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        if (reader.CurrentDepth + 1 > MaxHeaderDepth) return VerifyFailure.TooDeep;
                        if (reader.TokenType == JsonTokenType.StartObject) objectStarts[openObjects++] = nameCount;
                        break;
                    case JsonTokenType.EndObject:
                        nameCount = objectStarts[--openObjects];
                        break;
                    case JsonTokenType.String when reader.ValueIsEscaped:
                        // An ignored value must still be text: an escaped lone surrogate throws here (Malformed).
                        unescapeArea ??= ArrayPool<byte>.Shared.Rent(json.Length);
                        reader.CopyString(unescapeArea.AsSpan(unescapeUsed));
                        break;
                    case JsonTokenType.PropertyName when reader.CurrentDepth == 1 && reader.ValueTextEquals("alg"u8):
                        if (hasAlg || !reader.Read() || reader.TokenType != JsonTokenType.String) return VerifyFailure.Malformed;
                        hasAlg = true;
                        alg = JwsAlgorithms.Match(ref reader);
                        break;
                    case JsonTokenType.PropertyName when reader.CurrentDepth == 1 && reader.ValueTextEquals("kid"u8):
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
                        break;
                    case JsonTokenType.PropertyName when reader.CurrentDepth == 1 && reader.ValueTextEquals("typ"u8):
                        if (typ != TypState.Absent || !reader.Read() || reader.TokenType != JsonTokenType.String) return VerifyFailure.Malformed;
                        typ = ReadTyp(ref reader, acceptedTypes);
                        break;
                    case JsonTokenType.PropertyName when reader.CurrentDepth == 1 && reader.ValueTextEquals("crit"u8):
                        // RFC 7515 4.1.11: no extension is understood, so none may be critical.
                        return VerifyFailure.CritUnsupported;
                    case JsonTokenType.PropertyName when reader.CurrentDepth == 1 && (reader.ValueTextEquals("jku"u8) ||
                        reader.ValueTextEquals("x5u"u8) || reader.ValueTextEquals("jwk"u8) || reader.ValueTextEquals("x5c"u8)):
                        // A key named by the token is chosen by the attacker: never fetched, never trusted.
                        return VerifyFailure.UntrustedKeyHeader;
                    case JsonTokenType.PropertyName when reader.CurrentDepth == 1 && (reader.ValueTextEquals("b64"u8) ||
                        reader.ValueTextEquals("zip"u8) || reader.ValueTextEquals("enc"u8)):
                        // Unencoded payload (RFC 7797), compression, encryption: each changes how the token is read.
                        return VerifyFailure.UnsupportedHeader;
                    case JsonTokenType.PropertyName:
                    {
                        // RFC 7515 4 / 4.1.11: a header parameter not understood MUST be ignored unless listed in crit.
                        if (3 * nameCount == names.Length)
                        {
                            int capacity = 3 * Math.Min(MaxPayloadMembers, json.Length / 4 + 1);
                            if (rentedNames is not null || capacity <= names.Length) return VerifyFailure.Malformed;
                            rentedNames = ArrayPool<int>.Shared.Rent(capacity);
                            names.CopyTo(rentedNames);
                            names = rentedNames.AsSpan(0, capacity);
                        }
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
                            unescapeArea ??= ArrayPool<byte>.Shared.Rent(json.Length);
                            length = reader.CopyString(unescapeArea.AsSpan(unescapeUsed));
                            offset = json.Length + unescapeUsed;
                            name = unescapeArea.AsSpan(unescapeUsed, length);
                            unescapeUsed += length;
                        }
                        int hash = NameHash(name);
                        for (int i = objectStarts[openObjects - 1]; i < nameCount; i++)
                        {
                            if (names[3 * i + 2] != hash) continue;
                            int o = names[3 * i];
                            var seen = o < json.Length ? json.Slice(o, names[3 * i + 1]) : unescapeArea.AsSpan(o - json.Length, names[3 * i + 1]);
                            if (seen.SequenceEqual(name)) return VerifyFailure.Malformed;
                        }
                        names[3 * nameCount] = offset;
                        names[3 * nameCount + 1] = length;
                        names[3 * nameCount + 2] = hash;
                        nameCount++;
                        break;
                    }
                }
            }
            // Incomplete JSON throws JsonException above, caught at the boundary; this is a second guard.
            if (openObjects != 0) return VerifyFailure.Malformed;
            return VerifyFailure.None;
        }
        finally
        {
            if (rentedNames is not null) ArrayPool<int>.Shared.Return(rentedNames);
            if (unescapeArea is not null) ArrayPool<byte>.Shared.Return(unescapeArea);
        }
    }

    // RFC 9068 2.1: "at+jwt"; RFC 7515 4.1.9: the "application/" prefix may be present, media types are case-insensitive.
    // acceptedTypes: the verifier's configured extra values (VerifyOptions.AcceptedTypes), matched exactly but for case.
    private static TypState ReadTyp(ref Utf8JsonReader reader, byte[][] acceptedTypes)
    {
        Span<byte> value = stackalloc byte[32];
        int length;
        if (reader.ValueIsEscaped)
        {
            if (reader.ValueSpan.Length > 6 * value.Length) return TypState.Wrong;
            Span<byte> unescaped = stackalloc byte[6 * 32];
            length = reader.CopyString(unescaped);
            if (length > value.Length) return TypState.Wrong;
            unescaped[..length].CopyTo(value);
        }
        else
        {
            if (reader.ValueSpan.Length > value.Length) return TypState.Wrong;
            reader.ValueSpan.CopyTo(value);
            length = reader.ValueSpan.Length;
        }
        var typ = value[..length];
        if (Ascii.EqualsIgnoreCase(typ, "at+jwt"u8) || Ascii.EqualsIgnoreCase(typ, "application/at+jwt"u8)) return TypState.AccessToken;
        foreach (var accepted in acceptedTypes)
            if (Ascii.EqualsIgnoreCase(typ, accepted)) return TypState.AcceptedExtra;
        return TypState.Wrong;
    }

    private VerifyFailure ReadClaims(Span<byte> json, out ClaimTimes times)
    {
        times = new ClaimTimes { Exp = -1, Iat = -1, Nbf = -1, AuthTime = -1 };
        bool issuerOk = false, audienceOk = false;
        int maxDepth = _options.MaxJsonDepth;
        // Duplicate-member check: names seen in each open object, as (offset, length) into json or into the
        // unescape area after it. objectStarts[d] is where the names of the object at depth d begin.
        // (offset, length, hash) per name other than the registered claims. Small on the stack; a payload with many
        // members moves to a pooled array bounded by the member cap (a JSON member takes at least 4 bytes, "":0).
        Span<int> names = stackalloc int[3 * 16];
        int[]? rentedNames = null;
        Span<int> objectStarts = stackalloc int[maxDepth + 1];
        int nameCount = 0, openObjects = 0, seenClaims = 0;
        byte[]? unescapeArea = null;
        int unescapeUsed = 0;

        try
        {
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
                    case JsonTokenType.String when reader.ValueIsEscaped:
                        // Claims are read on demand after the verify, which must not fail then: an escaped lone
                        // surrogate ("\ud800") throws here instead, and the boundary turns that into Malformed.
                        unescapeArea ??= new byte[json.Length];
                        reader.CopyString(unescapeArea.AsSpan(unescapeUsed));
                        break;
                    case JsonTokenType.PropertyName:
                    {
                        // Registered claims at the top level are recognised by value and checked for duplicates with a
                        // bit each; only other names go through the general per-object list.
                        if (reader.CurrentDepth == 1 && !reader.ValueIsEscaped)
                        {
                            var claim = Classify(reader.ValueSpan);
                            if (claim != Claim.Other)
                            {
                                if ((seenClaims & (1 << (int)claim)) != 0) return VerifyFailure.Malformed;
                                seenClaims |= 1 << (int)claim;
                                // sub, jti and sid are only checked for duplicates here; their values are read on demand.
                                if (claim > Claim.Aud) break;
                                var claimFailure = ReadTopLevelClaim(ref reader, claim, ref times, ref issuerOk, ref audienceOk);
                                if (claimFailure != VerifyFailure.None) return claimFailure;
                                break;
                            }
                        }
                        if (3 * nameCount == names.Length)
                        {
                            int capacity = 3 * Math.Min(MaxPayloadMembers, json.Length / 4 + 1);
                            if (rentedNames is not null || capacity <= names.Length) return VerifyFailure.Malformed;
                            rentedNames = ArrayPool<int>.Shared.Rent(capacity);
                            names.CopyTo(rentedNames);
                            names = rentedNames.AsSpan(0, capacity);
                        }
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
                            // An escaped spelling of a registered claim ("\u0065xp") is the same member (RFC 8259 8.3).
                            if (reader.CurrentDepth == 1 && Classify(name) is var escapedClaim && escapedClaim != Claim.Other)
                            {
                                if ((seenClaims & (1 << (int)escapedClaim)) != 0) return VerifyFailure.Malformed;
                                seenClaims |= 1 << (int)escapedClaim;
                                var claimFailure = ReadTopLevelClaim(ref reader, escapedClaim, ref times, ref issuerOk, ref audienceOk);
                                if (claimFailure != VerifyFailure.None) return claimFailure;
                                break;
                            }
                        }
                        int hash = NameHash(name);
                        for (int i = objectStarts[openObjects - 1]; i < nameCount; i++)
                        {
                            if (names[3 * i + 2] != hash) continue;
                            int o = names[3 * i];
                            var seen = o < json.Length ? json.Slice(o, names[3 * i + 1]) : unescapeArea.AsSpan(o - json.Length, names[3 * i + 1]);
                            if (seen.SequenceEqual(name)) return VerifyFailure.Malformed;
                        }
                        names[3 * nameCount] = offset;
                        names[3 * nameCount + 1] = length;
                        names[3 * nameCount + 2] = hash;
                        nameCount++;
                        break;
                    }
                }
            }
        }
        finally
        {
            if (rentedNames is not null) ArrayPool<int>.Shared.Return(rentedNames);
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

    // A cheap filter for the duplicate check; equal names always hash equal, the byte comparison decides.
    private static int NameHash(ReadOnlySpan<byte> name)
    {
        int hash = name.Length;
        foreach (byte b in name) hash = hash * 31 + b;
        return hash;
    }

    // Claims up to Aud are read and checked during the walk; the later ones only for duplicates.
    private enum Claim { Other, Exp, Nbf, Iat, AuthTime, Iss, Aud, Sub, Jti, Sid }

    // Three-letter registered names packed into an int: one switch instead of a string comparison each.
    // auth_time (OpenID Connect Core 1.0 2) is the one longer name: a NumericDate, so it is checked like iat.
    private static Claim Classify(ReadOnlySpan<byte> name)
    {
        if (name.Length == 9) return name.SequenceEqual("auth_time"u8) ? Claim.AuthTime : Claim.Other;
        if (name.Length != 3) return Claim.Other;
        return (name[0] << 16 | name[1] << 8 | name[2]) switch
        {
            'e' << 16 | 'x' << 8 | 'p' => Claim.Exp,
            'n' << 16 | 'b' << 8 | 'f' => Claim.Nbf,
            'i' << 16 | 'a' << 8 | 't' => Claim.Iat,
            'i' << 16 | 's' << 8 | 's' => Claim.Iss,
            'a' << 16 | 'u' << 8 | 'd' => Claim.Aud,
            's' << 16 | 'u' << 8 | 'b' => Claim.Sub,
            'j' << 16 | 't' << 8 | 'i' => Claim.Jti,
            's' << 16 | 'i' << 8 | 'd' => Claim.Sid,
            _ => Claim.Other,
        };
    }

    // The reader sits on a registered top-level claim name. Values of sub, jti and sid are left to the walk (read on
    // demand); the others are read and checked here.
    private VerifyFailure ReadTopLevelClaim(ref Utf8JsonReader reader, Claim claim, ref ClaimTimes times, ref bool issuerOk, ref bool audienceOk)
    {
        if (claim == Claim.Exp) return ReadNumericDate(ref reader, out times.Exp);
        if (claim == Claim.Nbf) return ReadNumericDate(ref reader, out times.Nbf);
        if (claim == Claim.Iat) return ReadNumericDate(ref reader, out times.Iat);
        // Only its form is checked (a NumericDate, else BadDate); how old a login may be is the resource's policy.
        if (claim == Claim.AuthTime) return ReadNumericDate(ref reader, out times.AuthTime);
        if (claim == Claim.Iss)
        {
            reader.Read();
            // Exact comparison of the unescaped value (RFC 7519 4.1.1: case-sensitive StringOrURI).
            if (reader.TokenType != JsonTokenType.String) return VerifyFailure.BadIssuer;
            RequireText(ref reader);
            issuerOk = reader.ValueTextEquals(_issuerUtf8);
            return VerifyFailure.None;
        }
        if (claim == Claim.Aud)
        {
            reader.Read();
            if (reader.TokenType == JsonTokenType.String)
            {
                RequireText(ref reader);
                audienceOk = reader.ValueTextEquals(_audienceUtf8);
                return VerifyFailure.None;
            }
            if (reader.TokenType != JsonTokenType.StartArray) return VerifyFailure.BadAudience;
            if (_options.MaxJsonDepth < 2) return VerifyFailure.TooDeep;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                // RFC 7519 4.1.3: an array of case-sensitive strings; anything else is not an audience.
                if (reader.TokenType != JsonTokenType.String) return VerifyFailure.BadAudience;
                RequireText(ref reader);
                audienceOk |= reader.ValueTextEquals(_audienceUtf8);
            }
            return VerifyFailure.None;
        }
        return VerifyFailure.None;
    }

    // iss and aud strings are consumed here, not by the walk, so they get the walk's check: an escaped string must
    // unescape to text (a lone surrogate throws, which the boundary turns into Malformed), or reading the claims after
    // a successful verify would throw instead. ValueTextEquals alone can answer false without unescaping.
    private static void RequireText(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped) return;
        Span<byte> small = stackalloc byte[256];
        reader.CopyString(reader.ValueSpan.Length <= small.Length ? small : new byte[reader.ValueSpan.Length]);
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
