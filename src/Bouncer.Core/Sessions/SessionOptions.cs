namespace Bouncer.Sessions;

/// <summary>Policy of the session engine. Defaults follow OWASP ASVS 3.3 for a typical web app.</summary>
public sealed class SessionOptions
{
    /// <summary>A session unused this long dies. Default 30 minutes.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>A session dies this long after creation, however active. Default 12 hours.</summary>
    public TimeSpan AbsoluteTimeout { get; set; } = TimeSpan.FromHours(12);

    /// <summary>
    /// Sliding renewal is written back at most once per interval, not on every read. Default 1 minute;
    /// the idle deadline is therefore accurate to within this interval.
    /// </summary>
    public TimeSpan TouchInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Most sessions one user may hold; creating one more evicts the oldest. A login never evicts the session it
    /// creates, so after logins racing on several instances (or on an instance whose clock runs behind) the user may
    /// hold one more until the next login trims. Null: no cap.
    /// </summary>
    public int? MaxSessionsPerUser { get; set; }

    /// <summary>Largest session data document in UTF-8 bytes. Default 4 KiB.</summary>
    public int MaxDataBytes { get; set; } = 4096;

    // 10,000: on SQLite every batch is one fsynced commit that rewrites each b-tree page it touches, so 1,000-row
    // batches made 1M expired sessions take minutes (bench/results/sweep.md); readers never wait for a batch, and
    // the Redis stores still send at most 1,000 commands per round trip.
    /// <summary>Rows deleted per sweep batch (one transaction). Default 10000.</summary>
    public int SweepBatchSize { get; set; } = 10_000;

    /// <summary>How often the background sweeper runs. Default 5 minutes.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Throws when a value is out of range, with a message naming it.</summary>
    public void Validate()
    {
        if (IdleTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(IdleTimeout), "IdleTimeout must be positive.");
        if (AbsoluteTimeout < IdleTimeout) throw new ArgumentOutOfRangeException(nameof(AbsoluteTimeout), "AbsoluteTimeout must be at least IdleTimeout.");
        if (TouchInterval < TimeSpan.Zero || TouchInterval >= IdleTimeout) throw new ArgumentOutOfRangeException(nameof(TouchInterval), "TouchInterval must be between zero and IdleTimeout.");
        if (MaxSessionsPerUser is < 1) throw new ArgumentOutOfRangeException(nameof(MaxSessionsPerUser), "MaxSessionsPerUser must be at least 1.");
        if (MaxDataBytes is < 2 or > 1 << 20) throw new ArgumentOutOfRangeException(nameof(MaxDataBytes), "MaxDataBytes must be between 2 and 1 MiB.");
        if (SweepBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(SweepBatchSize), "SweepBatchSize must be at least 1.");
        if (SweepInterval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(SweepInterval), "SweepInterval must be positive.");
    }
}
