namespace Bouncer.Diagnostics;

/// <summary>The audit trail in process memory: tests and single-process demos; lost at exit. Thread-safe.</summary>
public sealed class MemoryAuditStore : IAuditStore
{
    private readonly List<AuditEvent> _events = [];
    private readonly Lock _gate = new();

    /// <inheritdoc/>
    public ValueTask AppendAsync(AuditEvent auditEvent, CancellationToken ct)
    {
        lock (_gate) _events.Add(auditEvent);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<AuditEvent>> ListAsync(string? subject, int limit, CancellationToken ct)
    {
        lock (_gate)
        {
            IReadOnlyList<AuditEvent> page = _events.Select((e, i) => (e, i))
                .Where(x => subject is null || x.e.Subject == subject)
                .OrderByDescending(x => x.e.At).ThenByDescending(x => x.i)
                .Take(limit).Select(x => x.e).ToList();
            return ValueTask.FromResult(page);
        }
    }

    /// <inheritdoc/>
    public ValueTask<int> SweepAsync(DateTimeOffset before, int batchSize, CancellationToken ct)
    {
        lock (_gate)
        {
            var old = _events.Where(e => e.At < before).Take(batchSize).ToHashSet();
            _events.RemoveAll(old.Contains);
            return ValueTask.FromResult(old.Count);
        }
    }
}
