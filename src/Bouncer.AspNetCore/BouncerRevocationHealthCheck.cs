using Bouncer.Revocation;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Bouncer.AspNetCore;

/// <summary>
/// Whether this instance's revocation state is fresh (the push connection is up, or was down for less than
/// <c>Revocation:StaleAfter</c>). Stale is Unhealthy when <c>Revocation:Policy</c> is <c>Refuse</c> (every token
/// check then answers 503) and Degraded under <c>FallBackToStore</c> (checks still answer, at a store round trip
/// each). Registered by <c>AddBouncer</c> as <see cref="BouncerHealthChecks.RevocationCheck"/>.
/// </summary>
public sealed class BouncerRevocationHealthCheck(RevocationListener listener, IOptions<BouncerOptions> options) : IHealthCheck
{
    /// <inheritdoc/>
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!listener.IsStale()) return Task.FromResult(HealthCheckResult.Healthy("fresh"));
        var status = options.Value.Revocation.Policy == StalenessPolicy.Refuse ? HealthStatus.Unhealthy : HealthStatus.Degraded;
        return Task.FromResult(new HealthCheckResult(status, "stale"));
    }
}
