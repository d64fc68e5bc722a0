using Bouncer.Sessions;

namespace Bouncer.AspNetCore;

/// <summary>
/// What the server did for one request: which strategy authenticated it, how many store reads, signature
/// checks and revocation checks it cost. Sent back in the <c>Bouncer-Trace</c> header so the simulator
/// shows facts, not a script.
/// </summary>
public sealed class BouncerTrace
{
    private static readonly AsyncLocal<BouncerTrace?> CurrentTrace = new();

    /// <summary>The trace of the request running on this async flow, or null.</summary>
    public static BouncerTrace? Current
    {
        get => CurrentTrace.Value;
        set => CurrentTrace.Value = value;
    }

    public string Strategy { get; set; } = "none";
    /// <summary>Session lookups served (near cache or store).</summary>
    public int SessionLookups { get; set; }

    /// <summary>Session reads that went past the near cache to the store.</summary>
    public int StoreLookups { get; set; }
    public int SignatureChecks { get; set; }
    public int RevocationChecks { get; set; }
    public int CredentialBytes { get; set; }
    public string? Reason { get; set; }

    public override string ToString() =>
        $"strategy={Strategy}; session-lookups={SessionLookups}; store-lookups={StoreLookups}; signature-checks={SignatureChecks}; revocation-checks={RevocationChecks}; credential-bytes={CredentialBytes}" +
        (Reason is null ? "" : $"; reason={Reason}");
}

/// <summary>Counts the session reads that reach the real store (past any near cache), per request and in metrics.</summary>
internal sealed class TracingSessionStore(ISessionStore inner, BouncerMetrics metrics) : ISessionStore
{
    public ValueTask<SessionRecord?> GetAsync(SessionKey key, CancellationToken ct)
    {
        if (BouncerTrace.Current is { } trace) trace.StoreLookups++;
        metrics.StoreLookups.Add(1);
        return inner.GetAsync(key, ct);
    }

    public ValueTask CreateAsync(SessionRecord record, CancellationToken ct) => inner.CreateAsync(record, ct);
    public ValueTask<bool> UpdateAsync(SessionRecord record, CancellationToken ct) => inner.UpdateAsync(record, ct);
    public ValueTask<bool> TouchAsync(SessionRecord record, CancellationToken ct) => inner.TouchAsync(record, ct);
    public ValueTask<bool> RotateAsync(SessionKey oldKey, SessionRecord next, CancellationToken ct) => inner.RotateAsync(oldKey, next, ct);
    public ValueTask<bool> DeleteAsync(SessionKey key, CancellationToken ct) => inner.DeleteAsync(key, ct);
    public ValueTask<int> DeleteUserAsync(string userId, CancellationToken ct) => inner.DeleteUserAsync(userId, ct);
    public ValueTask<IReadOnlyList<SessionRecord>> ListUserAsync(string userId, CancellationToken ct) => inner.ListUserAsync(userId, ct);
    public ValueTask<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken ct) => inner.SweepAsync(now, batchSize, ct);
}
