namespace Bouncer.Sessions;

/// <summary>
/// One stored session. All instants are whole milliseconds (the engine truncates them) so every store
/// round-trips them exactly.
/// </summary>
public sealed record SessionRecord
{
    /// <summary>SHA-256 of the session id: the primary key.</summary>
    public required SessionKey Key { get; init; }

    /// <summary>The user the session belongs to (opaque to Bouncer, at most 256 chars).</summary>
    public required string UserId { get; init; }

    /// <summary>Application data: a small JSON object, or null.</summary>
    public string? Data { get; init; }

    /// <summary>A short description of the client (user agent, IP) for "your sessions" lists.</summary>
    public string? Client { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Last time the idle deadline was renewed (written at most once per touch interval).</summary>
    public required DateTimeOffset LastSeenAt { get; init; }

    /// <summary>
    /// When the session dies unless renewed: min(last seen + idle timeout, absolute expiry). Stores use
    /// it for their own garbage collection (TTL, sweep); the engine decides validity with its clock.
    /// </summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>Created + absolute timeout; nothing extends it.</summary>
    public required DateTimeOffset AbsoluteExpiresAt { get; init; }
}
