namespace Bouncer.Revocation;

/// <summary>
/// Carries revocations between Bouncer instances: a durable, ordered log plus a push notification.
/// Transports: in-process, Redis pub/sub, PostgreSQL LISTEN/NOTIFY. A push may be lost (a dropped
/// connection); the log never is, so a subscriber that (re)connects replays from its cursor.
/// </summary>
public interface IRevocationChannel
{
    /// <summary>Writes the revocation durably, then pushes it to subscribers. Returns its cursor.</summary>
    ValueTask<long> PublishAsync(RevocationRecord revocation, CancellationToken ct);

    /// <summary>Up to <paramref name="max"/> entries with a cursor greater than <paramref name="cursor"/>, in order.</summary>
    ValueTask<IReadOnlyList<RevocationEntry>> ReadAfterAsync(long cursor, int max, CancellationToken ct);

    /// <summary>
    /// Starts receiving pushes. The subscriber is told when the push connection drops and when it is
    /// back (it then replays from its cursor). Dispose the result to stop.
    /// </summary>
    ValueTask<IAsyncDisposable> SubscribeAsync(IRevocationSubscriber subscriber, CancellationToken ct);

    /// <summary>Deletes log entries whose expiry has passed; returns how many.</summary>
    ValueTask<int> PruneAsync(DateTimeOffset now, CancellationToken ct);
}

/// <summary>Receives pushes from an <see cref="IRevocationChannel"/>. Calls may come from any thread.</summary>
public interface IRevocationSubscriber
{
    /// <summary>A revocation was pushed.</summary>
    void OnPushed(RevocationEntry entry);

    /// <summary>The push connection is up (first time or after a drop): replay from the cursor.</summary>
    void OnConnected();

    /// <summary>The push connection dropped: pushes may be missed until <see cref="OnConnected"/>.</summary>
    void OnDisconnected();
}
