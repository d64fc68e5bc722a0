using Bouncer.Revocation;
using Bouncer.Sessions;
using Bouncer.Tokens;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bouncer.Hosting;

/// <summary>
/// Runs one instance's engine with the host: subscribes the revocation listener (and replays the log) before the
/// host serves anything, then keeps house every 30 s: picks up keys rotated by another instance, adds the scheduled
/// key and retires expired ones (<see cref="KeyManager.RunScheduleAsync"/>), sweeps expired sessions and refresh
/// families, prunes the revocation log. The engine's services are usable before it starts;
/// until the listener connects, the revocation state simply counts as not yet fresh.
/// </summary>
public sealed partial class BouncerEngineService : IHostedService, IAsyncDisposable, IDisposable
{
    // As SessionOptions.SweepBatchSize's default: one SQLite commit per 10,000 rows, not per 1,000.
    private const int RefreshSweepBatch = 10_000;

    private readonly IServiceProvider _services;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Task? _housekeeping;
    private Task? _stopping;

    /// <summary>Created by the container; resolves the engine's services at start.</summary>
    public BouncerEngineService(IServiceProvider services, TimeProvider time, ILogger<BouncerEngineService>? logger = null)
    {
        _services = services;
        _time = time;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <inheritdoc/>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // A fault found while the app mapped its endpoints is this start's failure: the host logs it once.
        _services.GetService<BouncerStartupFault>()?.ThrowIfReported();
        var stores = _services.GetRequiredService<BouncerStores>();
        var options = _services.GetRequiredService<Microsoft.Extensions.Options.IOptions<BouncerEngineOptions>>().Value;
        var tokens = _services.GetRequiredService<BouncerTokens>();
        // The session manager (its near cache) and the user directory observe the listener: resolve them before it replays.
        _services.GetRequiredService<SessionManager>();
        _services.GetRequiredService<Bouncer.Users.UserDirectory>();
        var keys = _services.GetRequiredService<KeyManager>();
        await _services.GetRequiredService<RevocationListener>().StartAsync(cancellationToken).ConfigureAwait(false);
        // Resolved here, not in the loop: a provider disposed before the loop's first step must not fault the stop.
        var sessions = _services.GetRequiredService<SessionManager>();
        var audit = _services.GetRequiredService<Bouncer.Diagnostics.BouncerAudit>();
        _housekeeping = Task.Run(() => HousekeepingAsync(stores, keys, sessions, audit, options, _stop.Token), CancellationToken.None);
        // The one start-up line, the same for the server and a library app: what an operator checks first.
        LogStarted(options.ModeName, stores.Name, tokens.Issuer, options.Audience, options.SigningAlgorithm.Name());
    }

    /// <inheritdoc/>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // Idempotent: a host may stop its services twice (WebApplicationFactory stops the host, then the app's own Run
        // returns and stops it again); every caller awaits the one stop.
        var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Interlocked.CompareExchange(ref _stopping, mine.Task, null) is { } first)
        {
            await first.ConfigureAwait(false);
            return;
        }
        try
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            if (_housekeeping is not null) await _housekeeping.ConfigureAwait(false);
            mine.SetResult();
        }
        catch (Exception ex)
        {
            mine.SetException(ex);
            throw;
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(default).ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <inheritdoc/>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private async Task HousekeepingAsync(BouncerStores stores, KeyManager keys, SessionManager sessions, Bouncer.Diagnostics.BouncerAudit audit,
        BouncerEngineOptions options, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(30), _time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                try
                {
                    await keys.RunScheduleAsync(ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A key store fault must not stop the sweeps below; the schedule is retried next interval.
                    LogHousekeepingFailed(ex);
                }
                try
                {
                    await sessions.SweepAsync(null, ct).ConfigureAwait(false);
                    while (await stores.RefreshTokens.SweepAsync(_time.GetUtcNow(), RefreshSweepBatch, ct).ConfigureAwait(false) == RefreshSweepBatch) { }
                    await stores.Revocations.PruneAsync(_time.GetUtcNow(), ct).ConfigureAwait(false);
                    await audit.SweepAsync(options.AuditRetention, ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogHousekeepingFailed(ex);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Bouncer started: mode {Mode}, store {Store}, issuer {Issuer}, audience {Audience}, signing {Algorithm}.")]
    private partial void LogStarted(string mode, string store, string issuer, string audience, string algorithm);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Housekeeping failed; retrying next interval.")]
    private partial void LogHousekeepingFailed(Exception ex);
}
