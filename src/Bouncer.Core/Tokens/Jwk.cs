using System.Text.Json;

namespace Bouncer.Tokens;

/// <summary>
/// One JSON Web Key (RFC 7517) as read or written, members as base64url strings. A plain model: the safety
/// rules run when a <see cref="SigningKey"/> is built from it. <see cref="ToString"/> never shows private members.
/// </summary>
public sealed class Jwk
{
    /// <summary>Key type (<c>kty</c>): <c>EC</c>, <c>OKP</c>, <c>RSA</c> or <c>oct</c>.</summary>
    public string? Kty { get; init; }
    /// <summary>Algorithm (<c>alg</c>) the key is for, or null.</summary>
    public string? Alg { get; init; }
    /// <summary>Key id (<c>kid</c>), or null.</summary>
    public string? Kid { get; init; }
    /// <summary>Intended use (<c>use</c>), e.g. <c>sig</c>, or null.</summary>
    public string? Use { get; init; }
    /// <summary>Permitted operations (<c>key_ops</c>), or null.</summary>
    public IReadOnlyList<string>? KeyOps { get; init; }
    /// <summary>Curve (<c>crv</c>) of an EC or OKP key.</summary>
    public string? Crv { get; init; }
    /// <summary>Public: the <c>x</c> coordinate (EC) or public key (OKP).</summary>
    public string? X { get; init; }
    /// <summary>Public: the <c>y</c> coordinate of an EC key.</summary>
    public string? Y { get; init; }
    /// <summary>Public: the RSA modulus (<c>n</c>).</summary>
    public string? N { get; init; }
    /// <summary>Public: the RSA public exponent (<c>e</c>).</summary>
    public string? E { get; init; }
    /// <summary>Private: EC/OKP private key, RSA private exponent.</summary>
    public string? D { get; init; }
    /// <summary>Private: the first RSA prime factor (<c>p</c>).</summary>
    public string? P { get; init; }
    /// <summary>Private: the second RSA prime factor (<c>q</c>).</summary>
    public string? Q { get; init; }
    /// <summary>Private: the first RSA CRT exponent (<c>dp</c>).</summary>
    public string? DP { get; init; }
    /// <summary>Private: the second RSA CRT exponent (<c>dq</c>).</summary>
    public string? DQ { get; init; }
    /// <summary>Private: the RSA CRT coefficient (<c>qi</c>).</summary>
    public string? QI { get; init; }
    /// <summary>Private: the symmetric key of an <c>oct</c> JWK.</summary>
    public string? K { get; init; }
    /// <summary>True when the JWK carries multi-prime RSA <c>oth</c>, which is refused.</summary>
    public bool HasOtherPrimes { get; init; }

    /// <summary>True when the JWK holds secret material (<c>d</c> or <c>k</c>).</summary>
    public bool HasPrivateMaterial => D is not null || K is not null;

    /// <summary>Type, algorithm, key id and whether the key is private; never key material.</summary>
    public override string ToString() => $"Jwk(kty={Kty}, alg={Alg}, kid={Kid}, {(HasPrivateMaterial ? "private" : "public")})";

    /// <summary>Writes the JWK; private members only when <paramref name="includePrivate"/>.</summary>
    public void WriteTo(Utf8JsonWriter writer, bool includePrivate)
    {
        writer.WriteStartObject();
        Write(writer, "kty", Kty);
        Write(writer, "alg", Alg);
        Write(writer, "kid", Kid);
        Write(writer, "use", Use);
        Write(writer, "crv", Crv);
        Write(writer, "x", X);
        Write(writer, "y", Y);
        Write(writer, "n", N);
        Write(writer, "e", E);
        if (includePrivate)
        {
            Write(writer, "d", D);
            Write(writer, "p", P);
            Write(writer, "q", Q);
            Write(writer, "dp", DP);
            Write(writer, "dq", DQ);
            Write(writer, "qi", QI);
            Write(writer, "k", K);
        }
        writer.WriteEndObject();
    }

    private static void Write(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null) writer.WriteString(name, value);
    }

    /// <summary>Reads one JWK object at the reader's current StartObject; refuses duplicate members.</summary>
    internal static Jwk Read(ref Utf8JsonReader reader, int index)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new KeyLoadException("malformed_jwk", $"key #{index}: not a JSON object");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string? kty = null, alg = null, kid = null, use = null, crv = null, x = null, y = null, n = null, e = null,
            d = null, p = null, q = null, dp = null, dq = null, qi = null, k = null;
        List<string>? keyOps = null;
        bool oth = false;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            string name = reader.GetString()!;
            if (!seen.Add(name))
                throw new KeyLoadException("duplicate_member", $"key #{index}: member '{name}' appears twice");
            reader.Read();
            switch (name)
            {
                case "key_ops":
                    if (reader.TokenType != JsonTokenType.StartArray)
                        throw new KeyLoadException("malformed_jwk", $"key #{index}: key_ops is not an array");
                    keyOps = [];
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                        keyOps.Add(reader.TokenType == JsonTokenType.String ? reader.GetString()! :
                            throw new KeyLoadException("malformed_jwk", $"key #{index}: key_ops holds a non-string"));
                    break;
                case "oth":
                    oth = true;
                    reader.Skip();
                    break;
                case "kty" or "alg" or "kid" or "use" or "crv" or "x" or "y" or "n" or "e" or "d" or "p" or "q" or "dp" or "dq" or "qi" or "k":
                    if (reader.TokenType != JsonTokenType.String)
                        throw new KeyLoadException("malformed_jwk", $"key #{index}: member '{name}' is not a string");
                    string value = reader.GetString()!;
                    switch (name)
                    {
                        case "kty": kty = value; break;
                        case "alg": alg = value; break;
                        case "kid": kid = value; break;
                        case "use": use = value; break;
                        case "crv": crv = value; break;
                        case "x": x = value; break;
                        case "y": y = value; break;
                        case "n": n = value; break;
                        case "e": e = value; break;
                        case "d": d = value; break;
                        case "p": p = value; break;
                        case "q": q = value; break;
                        case "dp": dp = value; break;
                        case "dq": dq = value; break;
                        case "qi": qi = value; break;
                        default: k = value; break;
                    }
                    break;
                default:
                    // Other members (x5c, x5t, ext, ...) carry nothing Bouncer acts on: ignored, never trusted.
                    reader.Skip();
                    break;
            }
        }
        return new Jwk
        {
            Kty = kty, Alg = alg, Kid = kid, Use = use, KeyOps = keyOps, Crv = crv, X = x, Y = y, N = n, E = e,
            D = d, P = p, Q = q, DP = dp, DQ = dq, QI = qi, K = k, HasOtherPrimes = oth,
        };
    }
}
