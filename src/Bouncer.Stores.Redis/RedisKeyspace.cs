using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace Bouncer.Stores.Redis;

/// <summary>
/// What the Redis stores share about their keys: digests in key names, TTLs, Unix-millisecond values, and
/// and the glob escaping of a prefix for SCAN.
/// </summary>
internal static class RedisKeyspace
{
    /// <summary>The shortest TTL ever set: a PEXPIRE of 0 or less would delete the key at once.</summary>
    public static readonly TimeSpan MinTtl = TimeSpan.FromSeconds(1);

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
}
