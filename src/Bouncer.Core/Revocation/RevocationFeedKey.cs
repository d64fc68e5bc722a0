namespace Bouncer.Revocation;

/// <summary>
/// The key downstream verifiers send (<c>X-Bouncer-Feed-Key</c>) to read the revocation feed when the host configures
/// none: generated at the deployment's first start, kept encrypted with the other secrets, the same on every instance.
/// <c>bouncer feed key</c> shows it. The feed names revoked users and sessions, so it is never open by default.
/// </summary>
public sealed class RevocationFeedKey
{
    /// <summary>Wraps the key.</summary>
    public RevocationFeedKey(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        Value = value;
    }

    /// <summary>The key itself: a secret; never log it.</summary>
    public string Value { get; }

    /// <summary>Never the key.</summary>
    public override string ToString() => "RevocationFeedKey(hidden)";
}
