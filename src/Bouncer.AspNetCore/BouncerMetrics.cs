using System.Diagnostics.Metrics;

namespace Bouncer.AspNetCore;

/// <summary>Bouncer's instruments (meter "Bouncer"), exported through OpenTelemetry or /metrics.</summary>
public sealed class BouncerMetrics : IDisposable
{
    public const string MeterName = "Bouncer";

    private readonly Meter _meter;

    public BouncerMetrics(IMeterFactory? factory = null)
    {
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        Logins = _meter.CreateCounter<long>("bouncer.logins", description: "Successful logins by mode.");
        Refreshes = _meter.CreateCounter<long>("bouncer.refreshes", description: "Refresh-token exchanges by outcome.");
        ReuseDetected = _meter.CreateCounter<long>("bouncer.refresh.reuse_detected", description: "Refresh tokens presented after rotation (theft).");
        Revocations = _meter.CreateCounter<long>("bouncer.revocations", description: "Revocations published by kind.");
        StoreLookups = _meter.CreateCounter<long>("bouncer.store.lookups", description: "Session reads that reached the store.");
        Verifications = _meter.CreateCounter<long>("bouncer.verifications", description: "Credential checks by strategy.");
        Failures = _meter.CreateCounter<long>("bouncer.failures", description: "Refused credentials and requests by reason code.");
    }

    public Counter<long> Logins { get; }
    public Counter<long> Refreshes { get; }
    public Counter<long> ReuseDetected { get; }
    public Counter<long> Revocations { get; }
    public Counter<long> StoreLookups { get; }
    public Counter<long> Verifications { get; }
    public Counter<long> Failures { get; }

    public void Fail(string reason) => Failures.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Dispose() => _meter.Dispose();
}
