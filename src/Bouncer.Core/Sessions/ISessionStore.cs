namespace Bouncer.Sessions;

/// <summary>
/// Persists session records. The engine (<see cref="SessionManager"/>) decides expiry, hashing,
/// throttling and caps; a store only stores. Keys are SHA-256 digests of session ids: a store never
/// sees a live id.
/// </summary>
/// <remarks>
/// Contract, checked by the shared store test suite:
/// <list type="bullet">
/// <item>"Not found" is a result (null / false / 0), never an exception. Exceptions mean broken
/// infrastructure (unreachable server, corrupt file) and propagate to the caller.</item>
/// <item>Every method is safe to call concurrently from many threads.</item>
/// <item>A store may drop records whose <see cref="SessionRecord.ExpiresAt"/> has passed (TTL, sweep),
/// and may still return them until it does: the engine re-checks expiry.</item>
/// <item>Multi-key changes (<see cref="RotateAsync"/>, user index upkeep) are atomic.</item>
/// </list>
/// </remarks>
public interface ISessionStore
{
    /// <summary>The record stored under <paramref name="key"/>, or null when absent.</summary>
    ValueTask<SessionRecord?> GetAsync(SessionKey key, CancellationToken ct);

    /// <summary>Inserts a new record.</summary>
    /// <exception cref="SessionKeyCollisionException">A record with the same key exists.</exception>
    ValueTask CreateAsync(SessionRecord record, CancellationToken ct);

    /// <summary>
    /// Replaces data, client, last-seen and expiry of an existing record (matched by key and user).
    /// False when it is gone; never resurrects a deleted session.
    /// </summary>
    ValueTask<bool> UpdateAsync(SessionRecord record, CancellationToken ct);

    /// <summary>
    /// Moves only last-seen and expiry of an existing record (matched by key and user); data and client stay as
    /// stored. The sliding renewal uses it: an instance renewing from an older cached copy must not write that
    /// copy's data back over a newer change. False when the record is gone.
    /// </summary>
    /// <remarks>One atomic write: a read-then-update would lose a data change landing between the two.</remarks>
    ValueTask<bool> TouchAsync(SessionRecord record, CancellationToken ct);

    /// <summary>
    /// Atomically deletes <paramref name="oldKey"/> and inserts <paramref name="next"/>. False (and no
    /// insert) when the old record is gone, so two racing rotations produce one successor.
    /// </summary>
    ValueTask<bool> RotateAsync(SessionKey oldKey, SessionRecord next, CancellationToken ct);

    /// <summary>Deletes one record; false when it was not there.</summary>
    ValueTask<bool> DeleteAsync(SessionKey key, CancellationToken ct);

    /// <summary>Deletes every record of a user; returns how many were deleted.</summary>
    ValueTask<int> DeleteUserAsync(string userId, CancellationToken ct);

    /// <summary>Every record of a user (expired ones may be included), in no particular order.</summary>
    ValueTask<IReadOnlyList<SessionRecord>> ListUserAsync(string userId, CancellationToken ct);

    /// <summary>
    /// Deletes at most <paramref name="batchSize"/> records whose expiry is at or before
    /// <paramref name="now"/> and returns how many it deleted; callers loop until it returns less than
    /// the batch size. One batch is one short transaction, so readers are never blocked for long.
    /// </summary>
    ValueTask<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken ct);
}

/// <summary>Thrown by <see cref="ISessionStore.CreateAsync"/> when the key already exists.</summary>
public sealed class SessionKeyCollisionException() : InvalidOperationException("A session with this key already exists.");
