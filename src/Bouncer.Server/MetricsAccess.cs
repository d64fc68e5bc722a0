using System.Security.Cryptography;
using System.Text;

namespace Bouncer.Server;

/// <summary>
/// Who may scrape <c>/metrics</c>: anyone, or with <c>Bouncer:MetricsPassword</c> set, only HTTP Basic user
/// <c>metrics</c> with that password (Prometheus <c>basic_auth</c>). Basic rather than Bearer, because a bearer
/// credential goes to Bouncer's own token handler; a Basic one passes it untouched.
/// </summary>
public sealed class MetricsAccess(string? password)
{
    /// <summary>The Basic user name a scrape presents.</summary>
    public const string User = "metrics";

    private readonly byte[]? _expected = password is { Length: > 0 }
        ? SHA256.HashData(Encoding.UTF8.GetBytes("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(User + ":" + password))))
        : null;

    /// <summary>True when no password is configured: every scrape is allowed.</summary>
    public bool IsOpen => _expected is null;

    /// <summary>Whether an <c>Authorization</c> header value grants a scrape. Digests first: no timing oracle on length or prefix.</summary>
    public bool Allows(string? authorization) =>
        _expected is null || CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(authorization ?? "")), _expected);
}
