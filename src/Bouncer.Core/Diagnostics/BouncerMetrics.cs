using System.Diagnostics.Metrics;

namespace Bouncer.Diagnostics;

/// <summary>
/// Bouncer's instruments on the meter named <see cref="MeterName"/>: what the engine did (logins, refreshes,
/// revocations, store reads) and every refusal by its <see cref="FailureCodes">failure code</see>. One instance per
/// deployment's service provider; export it with OpenTelemetry or any <see cref="MeterListener"/>.
/// </summary>
public sealed class BouncerMetrics : IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Bouncer";

    private readonly Meter _meter;

    /// <summary>Creates the instruments on a meter from <paramref name="factory"/> (or a new meter without one).</summary>
    public BouncerMetrics(IMeterFactory? factory = null)
    {
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        Logins = _meter.CreateCounter<long>("bouncer.logins", description: "Successful logins by mode.");
        Refreshes = _meter.CreateCounter<long>("bouncer.refreshes", description: "Refresh-token exchanges by outcome.");
        ReuseDetected = _meter.CreateCounter<long>("bouncer.refresh.reuse_detected", description: "Refresh tokens presented after rotation (theft).");
        Revocations = _meter.CreateCounter<long>("bouncer.revocations", description: "Access changes announced, by kind.");
        StoreLookups = _meter.CreateCounter<long>("bouncer.store.lookups", description: "Session reads that reached the store.");
        Verifications = _meter.CreateCounter<long>("bouncer.verifications", description: "Credential checks by strategy.");
        Failures = _meter.CreateCounter<long>("bouncer.failures", description: "Refused credentials and requests by reason code.");
        AuditEvents = _meter.CreateCounter<long>("bouncer.audit.events", description: "Security audit events by kind.");
        RevocationPropagation = _meter.CreateHistogram<double>("bouncer.revocation.propagation", unit: "ms",
            description: "From an announcement's creation on any instance to its application on this one.");
    }

    /// <summary>Successful logins, tagged <c>mode</c>.</summary>
    public Counter<long> Logins { get; }

    /// <summary>Refresh exchanges, tagged <c>outcome</c>.</summary>
    public Counter<long> Refreshes { get; }

    /// <summary>Rotated refresh tokens presented again after the grace window.</summary>
    public Counter<long> ReuseDetected { get; }

    /// <summary>Access changes announced on the revocation channel, tagged <c>kind</c> (the reason).</summary>
    public Counter<long> Revocations { get; }

    /// <summary>Session reads that went past the near cache to the store.</summary>
    public Counter<long> StoreLookups { get; }

    /// <summary>Credential checks, tagged <c>strategy</c> (session or jwt).</summary>
    public Counter<long> Verifications { get; }

    /// <summary>Refusals, tagged <c>reason</c> (a failure code).</summary>
    public Counter<long> Failures { get; }

    /// <summary>Audit events, tagged <c>kind</c>.</summary>
    public Counter<long> AuditEvents { get; }

    /// <summary>Propagation of each announcement to this instance, in milliseconds (clock skew between instances included).</summary>
    public Histogram<double> RevocationPropagation { get; }

    /// <summary>Counts one refusal by its failure code.</summary>
    public void Fail(string reason) => Failures.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <inheritdoc/>
    public void Dispose() => _meter.Dispose();
}
