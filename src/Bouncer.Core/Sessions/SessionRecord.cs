namespace Bouncer.Sessions;

/// <summary>
/// One stored session. All instants are whole milliseconds (the engine truncates them) so every store
/// round-trips them exactly.
/// </summary>
public sealed record SessionRecord
{
    private Session? _view;

    /// <summary>An empty record; set the required members with an object initializer.</summary>
    public SessionRecord() { }

    // A copy made with `with` is a different record: it must not share the original's view.
    [System.Diagnostics.CodeAnalysis.SetsRequiredMembers]
    private SessionRecord(SessionRecord original)
    {
        Key = original.Key;
        UserId = original.UserId;
        Data = original.Data;
        Client = original.Client;
        CreatedAt = original.CreatedAt;
        LastSeenAt = original.LastSeenAt;
        ExpiresAt = original.ExpiresAt;
        AbsoluteExpiresAt = original.AbsoluteExpiresAt;
    }

    internal Session View => _view ??= new Session(this);

    /// <summary>Value equality over the stored fields.</summary>
    public bool Equals(SessionRecord? other) =>
        other is not null && Key == other.Key && UserId == other.UserId && Data == other.Data && Client == other.Client
        && CreatedAt == other.CreatedAt && LastSeenAt == other.LastSeenAt && ExpiresAt == other.ExpiresAt
        && AbsoluteExpiresAt == other.AbsoluteExpiresAt;

    /// <summary>A hash over the key, user and expiry, consistent with <see cref="Equals(SessionRecord)"/>.</summary>
    public override int GetHashCode() => HashCode.Combine(Key, UserId, ExpiresAt);

    /// <summary>SHA-256 of the session id: the primary key.</summary>
    public required SessionKey Key { get; init; }

    /// <summary>The user the session belongs to (opaque to Bouncer, at most 256 chars).</summary>
    public required string UserId { get; init; }

    /// <summary>Application data: a small JSON object, or null.</summary>
    public string? Data { get; init; }

    /// <summary>A short description of the client (user agent, IP) for "your sessions" lists.</summary>
    public string? Client { get; init; }

    /// <summary>When the session was created.</summary>
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
