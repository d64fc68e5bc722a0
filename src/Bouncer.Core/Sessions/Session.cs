namespace Bouncer.Sessions;

/// <summary>
/// A live session as the application sees it: a read-only view of one stored record, built once per
/// record so a near-cache hit hands out the same view without allocating.
/// </summary>
public sealed class Session
{
    private readonly SessionRecord _record;
    private string? _handle;

    internal Session(SessionRecord record) => _record = record;

    /// <summary>
    /// Public handle (base64url SHA-256 of the id): names the session in lists and "revoke this one"
    /// without exposing the id.
    /// </summary>
    public string Handle => _handle ??= _record.Key.ToString();

    /// <summary>The user the session belongs to.</summary>
    public string UserId => _record.UserId;
    /// <summary>Application data stored with the session (a small JSON object), or null.</summary>
    public string? Data => _record.Data;
    /// <summary>A short description of the client (user agent, IP), or null.</summary>
    public string? Client => _record.Client;
    /// <summary>When the session was created.</summary>
    public DateTimeOffset CreatedAt => _record.CreatedAt;
    /// <summary>Last time the idle deadline was renewed.</summary>
    public DateTimeOffset LastSeenAt => _record.LastSeenAt;
    /// <summary>When the session dies unless renewed (idle deadline, capped by <see cref="AbsoluteExpiresAt"/>).</summary>
    public DateTimeOffset ExpiresAt => _record.ExpiresAt;
    /// <summary>The absolute end of the session; nothing extends it.</summary>
    public DateTimeOffset AbsoluteExpiresAt => _record.AbsoluteExpiresAt;

    internal static Session From(SessionRecord r) => r.View;
}

/// <summary>Bad input to the session engine (oversized or non-JSON data, bad user id).</summary>
public sealed class SessionInputException(string message) : ArgumentException(message);
