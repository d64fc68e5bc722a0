using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Bouncer.AspNetCore;

/// <summary>
/// Per-address limits on password checks, one per deployment instance: failures per minute (floods and guessing get
/// 429, a person on a few devices never does), and at most <see cref="ChecksPerAddress"/> checks at once (a failure
/// is counted when its check ends, so a parallel burst would otherwise all pass the probe before the first counts).
/// </summary>
internal sealed class LoginThrottle : IDisposable
{
    /// <summary>Password checks from one address that run at once; the overshoot of the failure limit is at most this.</summary>
    public const int ChecksPerAddress = 2;

    private readonly PartitionedRateLimiter<string> _failures;
    private readonly PartitionedRateLimiter<string> _inFlight;
    private readonly PartitionedRateLimiter<string> _registrations;
    private readonly PartitionedRateLimiter<string> _refreshes;

    public LoginThrottle(IOptions<BouncerOptions> options)
    {
        var perMinute = options.Value.LoginFailuresPerMinute;
        _failures = PartitionedRateLimiter.Create<string, string>(ip => RateLimitPartition.GetFixedWindowLimiter(ip,
            _ => new FixedWindowRateLimiterOptions { PermitLimit = perMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
        var registrations = options.Value.RegistrationsPerMinute;
        _registrations = PartitionedRateLimiter.Create<string, string>(ip => RateLimitPartition.GetFixedWindowLimiter(ip,
            _ => new FixedWindowRateLimiterOptions { PermitLimit = registrations, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
        var refreshes = options.Value.RefreshesPerMinute;
        _refreshes = PartitionedRateLimiter.Create<string, string>(ip => RateLimitPartition.GetFixedWindowLimiter(ip,
            _ => new FixedWindowRateLimiterOptions { PermitLimit = refreshes, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
        // The rest wait their turn (then meet the probe); a flood past the queue is refused at once.
        _inFlight = PartitionedRateLimiter.Create<string, string>(ip => RateLimitPartition.GetConcurrencyLimiter(ip,
            _ => new ConcurrencyLimiterOptions { PermitLimit = ChecksPerAddress, QueueLimit = 64, QueueProcessingOrder = QueueProcessingOrder.OldestFirst }));
    }

    /// <summary>A turn to check a password from <paramref name="address"/>; dispose it when the check ends.</summary>
    public ValueTask<RateLimitLease> TurnAsync(string address, CancellationToken ct) => _inFlight.AcquireAsync(address, 1, ct);

    /// <summary>True while <paramref name="address"/> is under its failure limit.</summary>
    public bool MayTry(string address)
    {
        using var probe = _failures.AttemptAcquire(address, 0);
        return probe.IsAcquired;
    }

    /// <summary>Takes one registration of <paramref name="address"/>'s per-minute allowance; false when it is used up.</summary>
    public bool MayRegister(string address)
    {
        using var lease = _registrations.AttemptAcquire(address, 1);
        return lease.IsAcquired;
    }

    /// <summary>
    /// Takes one refresh of <paramref name="address"/>'s per-minute allowance; false when it is used up (guessing or
    /// replaying refresh tokens in bulk; RFC 9700 4.14 asks for refresh tokens to be hard to use by anyone else).
    /// </summary>
    public bool MayRefresh(string address)
    {
        using var lease = _refreshes.AttemptAcquire(address, 1);
        return lease.IsAcquired;
    }

    /// <summary>Counts one failure of <paramref name="address"/>.</summary>
    public void Failed(string address) => _failures.AttemptAcquire(address, 1).Dispose();

    public void Dispose()
    {
        _failures.Dispose();
        _inFlight.Dispose();
        _registrations.Dispose();
        _refreshes.Dispose();
    }
}
