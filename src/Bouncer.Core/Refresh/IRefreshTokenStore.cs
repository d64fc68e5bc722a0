namespace Bouncer.Refresh;

/// <summary>
/// Persists refresh tokens by hash. The <see cref="RefreshTokenService"/> owns policy (lifetimes, grace
/// window, theft verdicts); a store only stores, and makes <see cref="RotateAsync"/> atomic.
/// </summary>
/// <remarks>"Not found" is a result, never an exception; exceptions mean broken infrastructure.</remarks>
public interface IRefreshTokenStore
{
    /// <summary>Inserts a record (login). Throws <see cref="InvalidOperationException"/> on a duplicate hash.</summary>
    ValueTask CreateAsync(RefreshRecord record, CancellationToken ct);

    /// <summary>The record for a token hash, or null.</summary>
    ValueTask<RefreshRecord?> GetAsync(string tokenHash, CancellationToken ct);

    /// <summary>
    /// Atomically: when the record <paramref name="currentHash"/> exists, is not rotated and not revoked,
    /// marks it rotated at <paramref name="rotatedAt"/> and inserts <paramref name="successor"/>; returns
    /// true. Otherwise changes nothing and returns false. Of many racing calls exactly one returns true.
    /// </summary>
    ValueTask<bool> RotateAsync(string currentHash, DateTimeOffset rotatedAt, RefreshRecord successor, CancellationToken ct);

    /// <summary>Marks every token of the family revoked; returns how many records changed.</summary>
    ValueTask<int> RevokeFamilyAsync(string familyId, CancellationToken ct);

    /// <summary>Marks every token of the user revoked; returns the distinct family ids that had live tokens.</summary>
    ValueTask<IReadOnlyList<string>> RevokeUserAsync(string userId, CancellationToken ct);

    /// <summary>Deletes at most <paramref name="batchSize"/> records whose family or idle expiry has passed.</summary>
    ValueTask<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken ct);
}
