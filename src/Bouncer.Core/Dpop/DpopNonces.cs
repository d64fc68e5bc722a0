using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Bouncer.Dpop;

/// <summary>
/// Server-provided DPoP nonces (RFC 9449 8, 9) without state: a nonce is the current period number and a MAC of it under
/// a secret, so every instance sharing the secret issues and accepts the same values. A nonce of the current or the
/// previous period passes. Thread-safe.
/// </summary>
public sealed class DpopNonces
{
    private const int MacBytes = 16;
    private readonly byte[] _key;
    private readonly TimeProvider _time;
    private readonly long _periodMs;

    /// <param name="key">At least 32 secret bytes, the same on every instance.</param>
    /// <param name="lifetime">The period (<see cref="DpopOptions.NonceLifetime"/>).</param>
    /// <param name="time">The clock; null: the system clock.</param>
    public DpopNonces(byte[] key, TimeSpan lifetime, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length < 32) throw new ArgumentOutOfRangeException(nameof(key), "The nonce key must be at least 32 bytes.");
        if (lifetime < TimeSpan.FromSeconds(1)) throw new ArgumentOutOfRangeException(nameof(lifetime), "The nonce lifetime must be at least 1 s.");
        _key = key;
        _time = time ?? TimeProvider.System;
        _periodMs = (long)lifetime.TotalMilliseconds;
    }

    /// <summary>The nonce of the current period, for a <c>DPoP-Nonce</c> header.</summary>
    public string Current() => For(Period());

    /// <summary>True when <paramref name="nonce"/> is this or the previous period's.</summary>
    public bool IsValid(string? nonce)
    {
        if (nonce is null || nonce.Length > 64) return false;
        long now = Period();
        // Constant-time compare: no oracle on how much of a forged MAC matched.
        Span<byte> presented = stackalloc byte[8 + MacBytes];
        if (!Tokens.Base64UrlStrict.TryDecode(nonce.AsSpan(), presented, out int written) || written != presented.Length) return false;
        long period = BinaryPrimitives.ReadInt64BigEndian(presented);
        if (period != now && period != now - 1) return false;
        Span<byte> expected = stackalloc byte[8 + MacBytes];
        Write(period, expected);
        return CryptographicOperations.FixedTimeEquals(presented, expected);
    }

    private long Period() => _time.GetUtcNow().ToUnixTimeMilliseconds() / _periodMs;

    private string For(long period)
    {
        Span<byte> value = stackalloc byte[8 + MacBytes];
        Write(period, value);
        return Tokens.Base64UrlStrict.Encode(value);
    }

    private void Write(long period, Span<byte> destination)
    {
        BinaryPrimitives.WriteInt64BigEndian(destination, period);
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_key, destination[..8], mac);
        mac[..MacBytes].CopyTo(destination[8..]);
    }
}
