using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bouncer.Sessions;

/// <summary>
/// Hosted service that sweeps expired sessions every <see cref="SessionOptions.SweepInterval"/>.
/// A failed sweep is logged and retried next interval; it never stops the host.
/// </summary>
public sealed partial class SessionSweeper(SessionManager sessions, TimeProvider time, ILogger<SessionSweeper>? logger = null) : BackgroundService
{
    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;

    /// <summary>Sweeps on every tick until the host stops.</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(sessions.Options.SweepInterval, time);
        do
        {
            try
            {
                var deleted = await sessions.SweepAsync(null, stoppingToken).ConfigureAwait(false);
                if (deleted > 0) LogSwept(deleted);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogSweepFailed(ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Swept {Count} expired sessions.")]
    private partial void LogSwept(long count);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Session sweep failed; retrying next interval.")]
    private partial void LogSweepFailed(Exception ex);
}
