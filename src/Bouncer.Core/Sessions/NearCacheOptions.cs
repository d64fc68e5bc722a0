namespace Bouncer.Sessions;

/// <summary>Options of the near cache (<see cref="SessionCache"/>).</summary>
public sealed class NearCacheOptions
{
    /// <summary>Most records held; past it, the cache makes room before adding. Default 100,000.</summary>
    public int MaxEntries { get; set; } = 100_000;

    /// <summary>
    /// Longest a record is served from memory without a store read. A cached record never outlives its
    /// own <see cref="SessionRecord.ExpiresAt"/>. Default 5 minutes.
    /// </summary>
    public TimeSpan TimeToLive { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Throws when a value is out of range, naming it.</summary>
    public void Validate()
    {
        if (MaxEntries < 1) throw new ArgumentOutOfRangeException(nameof(MaxEntries), "NearCache:MaxEntries must be at least 1.");
        if (TimeToLive <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(TimeToLive), "NearCache:TimeToLive must be positive.");
    }
}
