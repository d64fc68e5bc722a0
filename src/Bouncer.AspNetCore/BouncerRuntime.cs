using System.Buffers.Text;
using System.Security.Cryptography;
using Bouncer.Refresh;
using Bouncer.Revocation;
using Bouncer.Sessions;
using Bouncer.Tokens;
using Bouncer.Users;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Bouncer.AspNetCore;

/// <summary>
/// One Bouncer instance, wired from its options and stores when the host starts: the session engine,
/// the key ring, issuer and verifier, refresh tokens, accounts and the revocation listener. Also runs
/// the housekeeping loop (sweeps, log pruning, picking up keys rotated by another instance).
/// </summary>
public sealed partial class BouncerRuntime : IHostedService, IAsyncDisposable
{
    private readonly BouncerStores _stores;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Task? _housekeeping;
    private Task? _stopping;
    private RevocationListener? _listener;
    private KeyRing? _keys;
    private JwsIssuer? _issuer;
    private JwsVerifier? _verifier;
    private SessionManager? _sessions;
    private RefreshTokenService? _refresh;

    public BouncerRuntime(IOptions<BouncerOptions> options, BouncerStores stores, TimeProvider time, BouncerMetrics metrics, ILoggerFactory loggers)
    {
        Options = options.Value;
        Options.Validate();
        _stores = stores;
        Time = time;
        Metrics = metrics;
        _loggers = loggers;
        _logger = loggers.CreateLogger<BouncerRuntime>();
        Users = new UserService(stores.Users, time, Options.Users);
    }

    public BouncerOptions Options { get; }
    public TimeProvider Time { get; }
    public BouncerMetrics Metrics { get; }
    public BouncerStores Stores => _stores;
    public UserService Users { get; }

    /// <summary>The issuer name shared by every instance (read from the store at start).</summary>
    public string Issuer { get; private set; } = "";

    public SessionManager Sessions => _sessions ?? throw NotStarted();
    public RefreshTokenService Refresh => _refresh ?? throw NotStarted();
    public RevocationListener Revocations => _listener ?? throw NotStarted();
    public KeyRing Keys => _keys ?? throw NotStarted();
    public JwsIssuer TokenIssuer => _issuer ?? throw NotStarted();
    public JwsVerifier Verifier => _verifier ?? throw NotStarted();

    /// <summary>True once <see cref="StartAsync"/> has completed.</summary>
    public bool IsStarted => _verifier is not null;

    /// <summary>Simulator only: per-user clock offsets applied when judging that user's access tokens.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, TimeSpan> DemoClockOffsets { get; } = new(StringComparer.Ordinal);

    /// <summary>A verifier whose clock runs <paramref name="offset"/> ahead (simulator "expire").</summary>
    internal JwsVerifier VerifierAhead(TimeSpan offset) =>
        new(Keys, new VerifyOptions { Issuer = Issuer, Audience = Options.Audience, RequireTyp = !Options.AllowMissingTyp }, new OffsetTimeProvider(Time, offset));

    private sealed class OffsetTimeProvider(TimeProvider inner, TimeSpan offset) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow() + offset;
    }

    /// <summary>Simulator only: when false, this instance ignores the revocation state for bearer tokens.</summary>
    public bool PushEnabled { get; set; } = true;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_stores.Initialize is { } initialize) await initialize(cancellationToken).ConfigureAwait(false);

        // Shared by every instance through the store: the first instance's values win a start-up race.
        Issuer = await _stores.Secrets.GetOrAddAsync("issuer", Options.Issuer, cancellationToken).ConfigureAwait(false);
        var derivation = await _stores.Secrets.GetOrAddAsync("refresh-derivation-key",
            Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32)), cancellationToken).ConfigureAwait(false);
        Options.Refresh.DerivationKey = Base64Url.DecodeFromChars(derivation);

        var ringOptions = new KeyRingOptions { Algorithm = Options.SigningAlgorithm, ClockSkew = TimeSpan.FromSeconds(30), PrePublicationDelay = Options.KeyPrePublicationDelay };
        var fresh = new InMemoryKeyStore();
        await KeyRing.LoadOrCreateAsync(fresh, ringOptions, Time, cancellationToken).ConfigureAwait(false);
        await _stores.Secrets.GetOrAddAsync(SecretKeyStore.Name, fresh.Value!, cancellationToken).ConfigureAwait(false);
        _keys = await KeyRing.LoadOrCreateAsync(new SecretKeyStore(_stores.Secrets), ringOptions, Time, cancellationToken).ConfigureAwait(false);

        var maxLifetime = Options.Refresh.AccessTokenLifetime > Options.ExchangeTokenLifetime ? Options.Refresh.AccessTokenLifetime : Options.ExchangeTokenLifetime;
        _issuer = new JwsIssuer(_keys, new IssueOptions { Issuer = Issuer, Audience = Options.Audience, DefaultLifetime = Options.Refresh.AccessTokenLifetime, MaxLifetime = maxLifetime }, Time);

        _listener = new RevocationListener(_stores.Revocations, Options.Revocation, Time, _loggers.CreateLogger<RevocationListener>());
        _listener.Observe(OnRevocationApplied);
        ISessionStore traced = new TracingSessionStore(_stores.Sessions, Metrics);
        ISessionStore sessionStore = Options.NearCache is { } cache
            ? new NearCacheSessionStore(traced, _stores.Revocations, _listener, Time, cache)
            : new PublishingSessionStore(traced, _stores.Revocations, Time);
        _sessions = new SessionManager(sessionStore, Time, Options.Sessions);
        _refresh = new RefreshTokenService(_stores.RefreshTokens, _stores.Revocations, Time, Options.Refresh, _loggers.CreateLogger<RefreshTokenService>());
        _refresh.OnAudit = e => Metrics.ReuseDetected.Add(e.Kind == "refresh_token_reused" ? 1 : 0);
        await _listener.StartAsync(cancellationToken).ConfigureAwait(false);

        _verifier = new JwsVerifier(_keys, new VerifyOptions { Issuer = Issuer, Audience = Options.Audience, RequireTyp = !Options.AllowMissingTyp }, Time);
        _housekeeping = Task.Run(() => HousekeepingAsync(_stop.Token), CancellationToken.None);
        LogStarted(Options.Mode, Options.SigningAlgorithm.Name());
    }

    /// <summary>
    /// Completes when the next revocation is applied on this instance, or after <paramref name="timeout"/>
    /// (callers re-read the log either way, so a push that raced the call is found by the re-read).
    /// </summary>
    public async Task WaitForNextRevocationAsync(TimeSpan timeout, CancellationToken ct)
    {
        Task signal;
        lock (_pushGate) signal = _pushSignal.Task;
        try { await signal.WaitAsync(timeout, Time, ct).ConfigureAwait(false); }
        catch (TimeoutException) { }
    }

    private readonly Lock _pushGate = new();
    private TaskCompletionSource _pushSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void OnRevocationApplied(RevocationRecord _)
    {
        TaskCompletionSource previous;
        lock (_pushGate)
        {
            previous = _pushSignal;
            _pushSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        previous.TrySetResult();
    }

    /// <summary>A verifier for tokens minted for another audience (the hybrid exchange's downstream services).</summary>
    public JwsVerifier VerifierFor(string audience) =>
        new(Keys, new VerifyOptions { Issuer = Issuer, Audience = audience, RequireTyp = !Options.AllowMissingTyp }, Time);

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // Idempotent: a host may stop its services twice (WebApplicationFactory stops the host, then the
        // app's own Run returns and stops it again); every caller awaits the one stop, which disposes the
        // listener once.
        var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Interlocked.CompareExchange(ref _stopping, mine.Task, null) is { } first)
        {
            await first.ConfigureAwait(false);
            return;
        }
        try
        {
            await StopCoreAsync().ConfigureAwait(false);
            mine.SetResult();
        }
        catch (Exception ex)
        {
            mine.SetException(ex);
            throw;
        }
    }

    private async Task StopCoreAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_housekeeping is not null) await _housekeeping.ConfigureAwait(false);
        if (_listener is not null) await _listener.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(default).ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task HousekeepingAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(30), Time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                try
                {
                    await _keys!.ReloadAsync(ct).ConfigureAwait(false);
                    await _sessions!.SweepAsync(null, ct).ConfigureAwait(false);
                    while (await _stores.RefreshTokens.SweepAsync(Time.GetUtcNow(), 1000, ct).ConfigureAwait(false) == 1000) { }
                    await _stores.Revocations.PruneAsync(Time.GetUtcNow(), ct).ConfigureAwait(false);
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

    private static InvalidOperationException NotStarted() => new("Bouncer has not started: the host must start before requests are served.");

    private sealed class InMemoryKeyStore : IKeyStore
    {
        public string? Value;
        public ValueTask<string?> LoadAsync(CancellationToken cancellationToken) => ValueTask.FromResult(Value);
        public ValueTask SaveAsync(string privateJwkSet, CancellationToken cancellationToken) { Value = privateJwkSet; return ValueTask.CompletedTask; }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Bouncer started: mode {Mode}, signing {Algorithm}.")]
    private partial void LogStarted(BouncerMode mode, string algorithm);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Housekeeping failed; retrying next interval.")]
    private partial void LogHousekeepingFailed(Exception ex);
}
