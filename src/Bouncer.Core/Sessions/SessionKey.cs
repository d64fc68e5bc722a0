using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using Bouncer.Tokens;

namespace Bouncer.Sessions;

/// <summary>
/// The SHA-256 digest of a session id: what stores keep and index instead of the id itself, so a
/// leaked table holds no usable session. A value type of four 64-bit words, compared without allocation.
/// </summary>
public readonly struct SessionKey : IEquatable<SessionKey>
{
    /// <summary>Length of the digest in bytes.</summary>
    public const int Size = 32;

    private readonly ulong _a, _b, _c, _d;

    /// <summary>Builds a key from a 32-byte digest (as read back from a store).</summary>
    /// <exception cref="ArgumentException">The span is not 32 bytes long.</exception>
    public SessionKey(ReadOnlySpan<byte> digest)
    {
        if (digest.Length != Size) throw new ArgumentException("A session key is 32 bytes.", nameof(digest));
        _a = BinaryPrimitives.ReadUInt64BigEndian(digest);
        _b = BinaryPrimitives.ReadUInt64BigEndian(digest[8..]);
        _c = BinaryPrimitives.ReadUInt64BigEndian(digest[16..]);
        _d = BinaryPrimitives.ReadUInt64BigEndian(digest[24..]);
    }

    /// <summary>Hashes raw session-id bytes into a key.</summary>
    public static SessionKey FromSecret(ReadOnlySpan<byte> secret)
    {
        Span<byte> digest = stackalloc byte[Size];
        SHA256.HashData(secret, digest);
        return new SessionKey(digest);
    }

    /// <summary>Writes the 32 digest bytes into <paramref name="destination"/>.</summary>
    public void CopyTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _a);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _b);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _c);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], _d);
    }

    /// <summary>The digest as a new array (for drivers that want one).</summary>
    public byte[] ToArray()
    {
        var bytes = new byte[Size];
        CopyTo(bytes);
        return bytes;
    }

    /// <summary>
    /// The digest as base64url (43 chars). Safe to show and log: it is the public handle of a session
    /// (what "revoke one of my sessions" names), and hashing it again never yields a live key.
    /// </summary>
    public override string ToString()
    {
        Span<byte> digest = stackalloc byte[Size];
        CopyTo(digest);
        return Base64Url.EncodeToString(digest);
    }

    /// <summary>Length of the handle <see cref="ToString"/> returns.</summary>
    internal const int HandleLength = 43;

    /// <summary>Writes the handle (<see cref="ToString"/>) into <paramref name="destination"/>, which holds at least
    /// <see cref="HandleLength"/> chars, without allocating.</summary>
    internal void FormatHandle(Span<char> destination)
    {
        Span<byte> digest = stackalloc byte[Size];
        CopyTo(digest);
        Base64Url.EncodeToChars(digest, destination);
    }

    /// <summary>Parses the handle produced by <see cref="ToString"/>; false for anything else.</summary>
    public static bool TryParseHandle(ReadOnlySpan<char> handle, out SessionKey key)
    {
        key = default;
        Span<byte> digest = stackalloc byte[Size];
        if (!Base64UrlStrict.TryDecode32(handle, digest)) return false;
        key = new SessionKey(digest);
        return true;
    }

    /// <summary>True when both keys hold the same digest.</summary>
    public bool Equals(SessionKey other) => _a == other._a & _b == other._b & _c == other._c & _d == other._d;
    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is SessionKey other && Equals(other);
    /// <inheritdoc/>
    public override int GetHashCode() => (int)_a ^ (int)(_a >> 32);
    /// <summary>True when both keys hold the same digest.</summary>
    public static bool operator ==(SessionKey left, SessionKey right) => left.Equals(right);
    /// <summary>True when the keys hold different digests.</summary>
    public static bool operator !=(SessionKey left, SessionKey right) => !left.Equals(right);
}
