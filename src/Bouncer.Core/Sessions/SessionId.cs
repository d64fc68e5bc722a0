using System.Buffers.Text;
using System.Security.Cryptography;
using Bouncer.Tokens;

namespace Bouncer.Sessions;

/// <summary>Session ids: 256 random bits, base64url without padding (43 chars).</summary>
public static class SessionId
{
    /// <summary>Length of every valid session id.</summary>
    public const int Length = Base64UrlStrict.Length32;

    /// <summary>A fresh id from the OS CSPRNG, and the key a store files it under.</summary>
    public static (string Id, SessionKey Key) New()
    {
        Span<byte> secret = stackalloc byte[32];
        RandomNumberGenerator.Fill(secret);
        var id = Base64Url.EncodeToString(secret);
        var key = SessionKey.FromSecret(secret);
        CryptographicOperations.ZeroMemory(secret);
        return (id, key);
    }

    /// <summary>
    /// Derives the store key of an id. False for anything that is not a canonical 43-char base64url
    /// value, so malformed input never reaches a store.
    /// </summary>
    public static bool TryGetKey(ReadOnlySpan<char> id, out SessionKey key)
    {
        Span<byte> secret = stackalloc byte[32];
        if (!Base64UrlStrict.TryDecode32(id, secret))
        {
            key = default;
            return false;
        }
        key = SessionKey.FromSecret(secret);
        CryptographicOperations.ZeroMemory(secret);
        return true;
    }
}
