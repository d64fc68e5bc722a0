using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace Bouncer.Stores.Redis;

/// <summary>
/// What the Redis stores share about their keys: digests in key names, TTLs, Unix-millisecond values, and
/// the sweep that walks the index keys of one prefix with SCAN (the prefix escaped for the glob).
/// </summary>
internal static class RedisKeyspace
{
    /// <summary>The shortest TTL ever set: a PEXPIRE of 0 or less would delete the key at once.</summary>
    public static readonly TimeSpan MinTtl = TimeSpan.FromSeconds(1);

    // SCAN page size: large enough for few round trips, small enough that one SCAN call stays short on the server.
    private const int ScanPageSize = 250;

    /// <summary>
    /// Base64url SHA-256 of <paramref name="value"/>'s UTF-8. Used where an id would otherwise sit in a key
    /// name: a digest is never empty and never holds a brace (either would break a hash tag), and user ids
    /// (often e-mail addresses) stay out of monitoring tools, slow logs and MONITOR output.
    /// </summary>
    public static string Digest(string value)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(value), digest);
        return Base64Url.EncodeToString(digest);
    }

    /// <summary>
    /// Milliseconds to pass to PEXPIRE for a record the engine considers live until <paramref name="expiresAt"/>:
    /// <c>expiresAt - now + slack</c>, at least <see cref="MinTtl"/>.
    /// </summary>
    public static long TtlMilliseconds(DateTimeOffset expiresAt, TimeProvider clock, TimeSpan slack)
    {
        var ttl = expiresAt - clock.GetUtcNow() + slack;
        return (long)(ttl < MinTtl ? MinTtl : ttl).TotalMilliseconds;
    }

    /// <summary>An instant as Unix milliseconds in invariant digits, the form every stored instant takes.</summary>
    public static string UnixMs(DateTimeOffset t) => t.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// <paramref name="literal"/> with the glob metacharacters of SCAN's MATCH (<c>* ? [ ] \</c>) escaped, so a
    /// prefix such as <c>app[1]:</c> matches only itself and never a neighbour's keys.
    /// </summary>
    public static string EscapeGlob(string literal)
    {
        var sb = new StringBuilder(literal.Length + 4);
        foreach (var c in literal)
        {
            if (c is '*' or '?' or '[' or ']' or '\\') sb.Append('\\');
            sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>
    /// Calls <paramref name="sweepIndex"/> (index key, what is left of the budget) on every key named
    /// <c>{prefix}{kind}...</c> of <paramref name="database"/>, on every primary (SCAN runs per server, and on
    /// Cluster each primary holds a share of the keys), until it has reported <paramref name="batchSize"/>
    /// deletions in all. Returns the total deletions it reported.
    /// </summary>
    public static async ValueTask<int> SweepIndexesAsync(IConnectionMultiplexer redis, int database, string prefix, string kind,
        int batchSize, Func<RedisKey, int, Task<int>> sweepIndex, CancellationToken ct)
    {
        var pattern = EscapeGlob(prefix + kind) + "*";
        var deleted = 0;
        foreach (var server in redis.GetServers().Where(s => !s.IsReplica))
        {
            await foreach (var index in server.KeysAsync(database, pattern, pageSize: ScanPageSize).WithCancellation(ct).ConfigureAwait(false))
            {
                deleted += await sweepIndex(index, batchSize - deleted).ConfigureAwait(false);
                if (deleted >= batchSize) return deleted;
            }
        }
        return deleted;
    }
}
