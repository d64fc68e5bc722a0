using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Bouncer.Dpop;

/// <summary>
/// The <c>jti</c> values of accepted DPoP proofs (RFC 9449 11.1), each kept until a proof carrying it could no longer
/// pass the <c>iat</c> check. Bounded: at most <see cref="Capacity"/> entries (sized by window x rate); when full of
/// live entries a new proof is refused rather than an entry forgotten, since a forgotten <c>jti</c> could be replayed.
/// Each proof key holds at most <see cref="CapacityPerKey"/> of them, so one client flooding with one key is refused
/// on its own and the others keep their room. One per process, shared by every verifier in it. Thread-safe. Entries
/// are keyed by a digest of the key thumbprint and the <c>jti</c>, so one client cannot spend another key's
/// <c>jti</c> values.
/// </summary>
public sealed class DpopReplayCache
{
    private readonly Dictionary<UInt128, long> _seen = [];
    private readonly Dictionary<string, int> _perKey = new(StringComparer.Ordinal);
    private readonly Queue<(UInt128 Key, string Thumbprint, long ExpiresAt)> _order = new();
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly long _retainMs;

    /// <param name="options">The window (lifetime and skew) and the rate it is sized for.</param>
    /// <param name="time">The clock; null: the system clock.</param>
    public DpopReplayCache(DpopOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _time = time ?? TimeProvider.System;
        // RFC 9449 11.1: keep a jti as long as its proof can pass the iat check. A proof with iat = now + skew passes until
        // iat + lifetime + skew; that check compares whole seconds (now truncated), so it still passes for up to 1 s more.
        var retain = options.ProofLifetime + options.ClockSkew + options.ClockSkew + TimeSpan.FromSeconds(1);
        _retainMs = (long)retain.TotalMilliseconds;
        Capacity = (int)Math.Min(int.MaxValue / 2, Math.Ceiling(retain.TotalSeconds) * options.MaxProofsPerSecond);
        CapacityPerKey = Math.Max(64, Capacity / 16);
    }

    /// <summary>The most entries held at once.</summary>
    public int Capacity { get; }

    /// <summary>The most entries one proof key (thumbprint) holds at once: max(64, <see cref="Capacity"/> / 16).</summary>
    public int CapacityPerKey { get; }

    /// <summary>Entries held now (expired ones are dropped on the next insert).</summary>
    public int Count
    {
        get { lock (_gate) return _seen.Count; }
    }

    /// <summary>Records the proof's <c>jti</c> for the key <paramref name="thumbprint"/>; says whether it was new.</summary>
    public DpopReplayVerdict TryAdd(string thumbprint, string jti)
    {
        ArgumentNullException.ThrowIfNull(thumbprint);
        ArgumentNullException.ThrowIfNull(jti);
        var key = KeyOf(thumbprint, jti);
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        lock (_gate)
        {
            // Entries go in at now + retain, so the queue is in expiry order: drop the expired head.
            while (_order.TryPeek(out var head) && head.ExpiresAt <= now)
            {
                _order.Dequeue();
                if (_seen.TryGetValue(head.Key, out var at) && at == head.ExpiresAt) _seen.Remove(head.Key);
                if (_perKey.TryGetValue(head.Thumbprint, out var held))
                {
                    if (held <= 1) _perKey.Remove(head.Thumbprint);
                    else _perKey[head.Thumbprint] = held - 1;
                }
            }
            if (_seen.ContainsKey(key)) return DpopReplayVerdict.Replayed;
            // A share per key: one client's flood fills its own share, not the cache every other client needs.
            int mine = _perKey.GetValueOrDefault(thumbprint);
            if (mine >= CapacityPerKey) return DpopReplayVerdict.KeyLimited;
            if (_seen.Count >= Capacity) return DpopReplayVerdict.Full;
            long expires = now + _retainMs;
            _seen[key] = expires;
            _perKey[thumbprint] = mine + 1;
            _order.Enqueue((key, thumbprint, expires));
            return DpopReplayVerdict.New;
        }
    }

    private static UInt128 KeyOf(string thumbprint, string jti)
    {
        Span<byte> digest = stackalloc byte[32];
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(thumbprint));
        hash.AppendData([0]);
        hash.AppendData(Encoding.UTF8.GetBytes(jti));
        hash.GetHashAndReset(digest);
        return BinaryPrimitives.ReadUInt128LittleEndian(digest);
    }
}

/// <summary>What <see cref="DpopReplayCache.TryAdd"/> found.</summary>
public enum DpopReplayVerdict
{
    /// <summary>First use: recorded.</summary>
    New,
    /// <summary>Seen before within the window: a replay.</summary>
    Replayed,
    /// <summary>The cache is full of live entries: the proof cannot be checked now.</summary>
    Full,
    /// <summary>This proof key holds its whole share of the cache: its proofs are refused until its entries expire.</summary>
    KeyLimited,
}
