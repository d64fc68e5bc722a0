using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Bouncer.AspNetCore;

/// <summary>
/// Whether the deployment's store answers: one cheap read (the stored issuer name), bounded to 2 seconds. Unhealthy
/// when the backend is unreachable or times out, so a load balancer stops sending traffic to this instance. Registered
/// by <c>AddBouncer</c> as <see cref="BouncerHealthChecks.StoreCheck"/>.
/// </summary>
public sealed class BouncerStoreHealthCheck(BouncerStores stores) : IHealthCheck
{
    /// <summary>How long the read may take before the store counts as down.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(2);

    /// <inheritdoc/>
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(Deadline);
            await stores.Secrets.GetAsync("issuer", deadline.Token).ConfigureAwait(false);
            return HealthCheckResult.Healthy("up");
        }
        catch (Exception ex) when (StoreFaults.IsUnavailable(ex) || ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            // The exception type only: a driver's message can name hosts and users, and health answers are public.
            return new HealthCheckResult(context.Registration.FailureStatus, "down", data: new Dictionary<string, object> { ["fault"] = ex.GetType().Name });
        }
    }
}
