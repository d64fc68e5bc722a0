namespace Bouncer.Revocation;

/// <summary>What a verifier does when its revocation state may be out of date.</summary>
public enum StalenessPolicy
{
    /// <summary>Catch up from the durable log on each check (a store read per request) while stale.</summary>
    FallBackToStore,

    /// <summary>Refuse every credential with <c>revocation_state_stale</c> while stale.</summary>
    Refuse,
}

/// <summary>Options of a <see cref="RevocationListener"/>.</summary>
public sealed class RevocationOptions
{
    /// <summary>The push connection may be down this long before the state counts as stale. Default 5 s.</summary>
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>What to do while stale. Default: fall back to the store.</summary>
    public StalenessPolicy Policy { get; set; } = StalenessPolicy.FallBackToStore;

    /// <summary>
    /// The log is also read on this period, a safety net for a push lost while the connection looked
    /// healthy; expired entries are pruned at the same time. Default 10 s.
    /// </summary>
    public TimeSpan ReplayInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Entries read per replay page. Default 1000.</summary>
    public int ReplayPageSize { get; set; } = 1000;

    /// <summary>Throws when a value is out of range, naming it (a zero page size would replay forever).</summary>
    public void Validate()
    {
        if (StaleAfter <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(StaleAfter), "StaleAfter must be positive.");
        if (ReplayInterval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ReplayInterval), "ReplayInterval must be positive.");
        if (ReplayPageSize is < 1 or > 100_000) throw new ArgumentOutOfRangeException(nameof(ReplayPageSize), "ReplayPageSize must be between 1 and 100000.");
    }
}

/// <summary>The outcome of a revocation check.</summary>
public enum RevocationVerdict : byte
{
    /// <summary>Not revoked, and the state is fresh (or was just caught up).</summary>
    Allowed,

    /// <summary>Revoked.</summary>
    Revoked,

    /// <summary>The state is stale and the policy refuses (or the store could not be read).</summary>
    Stale,
}
