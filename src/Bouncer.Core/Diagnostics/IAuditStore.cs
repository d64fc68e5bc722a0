namespace Bouncer.Diagnostics;

/// <summary>
/// Keeps the audit trail so "what happened to this account" can be answered after the fact. A store only stores:
/// the engine decides what is an event, and the retention (<see cref="SweepAsync"/>). Events never hold a token, a
/// session id, a password or a key. "Not found" is an empty list; exceptions mean broken infrastructure.
/// </summary>
public interface IAuditStore
{
    /// <summary>Appends one event durably.</summary>
    ValueTask AppendAsync(AuditEvent auditEvent, CancellationToken ct);

    /// <summary>
    /// Up to <paramref name="limit"/> events, newest first (by <see cref="AuditEvent.At"/>, then by insertion): those
    /// whose <see cref="AuditEvent.Subject"/> is <paramref name="subject"/> (null: every event).
    /// </summary>
    ValueTask<IReadOnlyList<AuditEvent>> ListAsync(string? subject, int limit, CancellationToken ct);

    /// <summary>
    /// Deletes at most <paramref name="batchSize"/> events older than <paramref name="before"/> and returns how many;
    /// callers loop until it returns less than the batch size.
    /// </summary>
    ValueTask<int> SweepAsync(DateTimeOffset before, int batchSize, CancellationToken ct);
}
