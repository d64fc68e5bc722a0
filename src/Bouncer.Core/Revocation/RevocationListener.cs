using Bouncer.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bouncer.Revocation;

/// <summary>
/// Keeps one instance's <see cref="RevocationSet"/> in step with an <see cref="IRevocationChannel"/>:
/// applies pushes as they arrive, replays the log from its cursor after every (re)connection and on a
/// period, knows how fresh it is, and applies the <see cref="StalenessPolicy"/>. Thread-safe.
/// </summary>
/// <example>
/// <code>
/// await using var listener = new RevocationListener(channel, new RevocationOptions(), TimeProvider.System);
/// await listener.StartAsync(ct);
/// var verdict = await listener.CheckAsync(sid, jti, sub, iat, ct);   // Allowed, Revoked or Stale
/// </code>
/// </example>
public sealed partial class RevocationListener : IRevocationSubscriber, IAsyncDisposable, IDisposable
{
    private readonly IRevocationChannel _channel;
    private readonly RevocationOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _replayGate = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Action<RevocationRecord>> _observers = [];
    private readonly Lock _appliedGate = new();
    private TaskCompletionSource _applied = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IAsyncDisposable? _subscription;
    private Task? _loop;
    private long _cursor;
    private long _measuredCursor;
    private readonly Bouncer.Diagnostics.BouncerMetrics? _metrics;
    private volatile bool _connected;
    private long _disconnectedAtTicks;
    private int _replayRequested;
    private int _disposed;

    /// <summary>A listener on <paramref name="channel"/>; nothing is read until <c>StartAsync</c>.</summary>
    /// <param name="channel">The revocation log and push feed to follow.</param>
    /// <param name="options">Replay period and staleness policy; defaults when null.</param>
    /// <param name="time">The clock; <see cref="TimeProvider.System"/> when null.</param>
    /// <param name="logger">The log, or null for none.</param>
    public RevocationListener(IRevocationChannel channel, RevocationOptions? options = null, TimeProvider? time = null, ILogger<RevocationListener>? logger = null,
        Bouncer.Diagnostics.BouncerMetrics? metrics = null)
    {
        _metrics = metrics;
        _channel = channel ?? throw new ArgumentNullException(nameof(channel));
        _options = options ?? new RevocationOptions();
        _time = time ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        // Until the first replay completes nothing vouches for the state: stale from the start, not for StaleAfter.
        _disconnectedAtTicks = long.MinValue / 2;
    }

    /// <summary>The in-memory state checked on the hot path.</summary>
    public RevocationSet Set { get; } = new();

    /// <summary>Cursor of the last log entry applied in order.</summary>
    public long Cursor => Interlocked.Read(ref _cursor);

    /// <summary>True while the push connection is up.</summary>
    public bool IsConnected => _connected;

    /// <summary>
    /// Registers a callback run for every revocation applied (pushed or replayed, possibly more than
    /// once): how a near cache learns what to evict. Call before <see cref="StartAsync"/>.
    /// </summary>
    public void Observe(Action<RevocationRecord> observer)
    {
        lock (_observers) _observers.Add(observer);
    }

    /// <summary>Subscribes, replays the whole retained log, and starts the periodic replay.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        _subscription = await _channel.SubscribeAsync(this, ct).ConfigureAwait(false);
        await ReplayAsync(ct).ConfigureAwait(false);
        // Caught up as of now: a push connection still coming up gets the usual StaleAfter from here.
        var notBefore = _time.GetUtcNow().UtcTicks;
        long seen;
        do seen = Interlocked.Read(ref _disconnectedAtTicks);
        while (seen < notBefore && Interlocked.CompareExchange(ref _disconnectedAtTicks, notBefore, seen) != seen);
        _loop = Task.Run(() => PeriodicAsync(_stop.Token), CancellationToken.None);
    }

    /// <summary>True when the push connection has been down longer than the bound.</summary>
    public bool IsStale()
    {
        if (_connected) return false;
        var downFor = _time.GetUtcNow().UtcTicks - Interlocked.Read(ref _disconnectedAtTicks);
        return downFor > _options.StaleAfter.Ticks;
    }

    /// <summary>
    /// Checks a credential's identifiers. Completes synchronously, with no I/O, unless the state is
    /// stale and the policy is to fall back to the store.
    /// </summary>
    public ValueTask<RevocationVerdict> CheckAsync(string? sid, string? jti, string? sub, long issuedAtUnixSeconds, CancellationToken ct) =>
        CheckAsync(null, sid, jti, sub, issuedAtUnixSeconds, ct);

    /// <summary>
    /// As <see cref="CheckAsync(string?, string?, string?, long, CancellationToken)"/>, and also refuses a token verified
    /// by a revoked key: <paramref name="kid"/> is the kid of the key that verified the signature.
    /// </summary>
    public ValueTask<RevocationVerdict> CheckAsync(string? kid, string? sid, string? jti, string? sub, long issuedAtUnixSeconds, CancellationToken ct)
    {
        if (Set.IsKeyRevoked(kid) || Set.IsRevoked(sid, jti, sub, issuedAtUnixSeconds)) return ValueTask.FromResult(RevocationVerdict.Revoked);
        if (!IsStale()) return ValueTask.FromResult(RevocationVerdict.Allowed);
        if (_options.Policy == StalenessPolicy.Refuse) return ValueTask.FromResult(RevocationVerdict.Stale);
        return CheckAfterCatchUpAsync(kid, sid, jti, sub, issuedAtUnixSeconds, ct);
    }

    private async ValueTask<RevocationVerdict> CheckAfterCatchUpAsync(string? kid, string? sid, string? jti, string? sub, long iat, CancellationToken ct)
    {
        try
        {
            await ReplayAsync(ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Neither push nor store can vouch for this credential: fail closed.
            LogFallbackFailed(ex);
            return RevocationVerdict.Stale;
        }
        return Set.IsKeyRevoked(kid) || Set.IsRevoked(sid, jti, sub, iat) ? RevocationVerdict.Revoked : RevocationVerdict.Allowed;
    }

    /// <summary>Reads every log entry after the cursor and applies it.</summary>
    public async Task ReplayAsync(CancellationToken ct)
    {
        await _replayGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            while (true)
            {
                var page = await _channel.ReadAfterAsync(Cursor, _options.ReplayPageSize, ct).ConfigureAwait(false);
                foreach (var entry in page)
                {
                    Apply(entry.Revocation);
                    Measure(entry);
                }
                if (page.Count > 0) Interlocked.Exchange(ref _cursor, page[^1].Cursor);
                if (page.Count < _options.ReplayPageSize) return;
            }
        }
        finally
        {
            _replayGate.Release();
        }
    }

    void IRevocationSubscriber.OnPushed(RevocationEntry entry)
    {
        // Applying early is safe (entries are idempotent): the revocation takes effect now, and the
        // cursor moves only in order so a gap is filled by the next replay.
        Apply(entry.Revocation);
        Measure(entry);
        if (Interlocked.CompareExchange(ref _cursor, entry.Cursor, entry.Cursor - 1) != entry.Cursor - 1 && entry.Cursor > Cursor)
            RequestReplay();
    }

    void IRevocationSubscriber.OnConnected()
    {
        _connected = true;
        LogConnected();
        RequestReplay();
    }

    void IRevocationSubscriber.OnDisconnected()
    {
        if (_connected) Interlocked.Exchange(ref _disconnectedAtTicks, _time.GetUtcNow().UtcTicks);
        _connected = false;
        LogDisconnected();
    }

    private void Apply(in RevocationRecord revocation)
    {
        // The span names the kind only, never the session, token or user it revokes.
        using var activity = BouncerActivities.Start(BouncerActivities.RevocationApply);
        activity?.SetTag(BouncerActivities.KindTag, revocation.Kind switch
        {
            RevocationKind.Session => "session",
            RevocationKind.Token => "token",
            RevocationKind.User => "user",
            RevocationKind.Everyone => "everyone",
            RevocationKind.Key => "key",
            RevocationKind.SignOut => "sign_out",
            _ => "unknown",
        });
        Set.Apply(revocation);
        Action<RevocationRecord>[] observers;
        lock (_observers) observers = [.. _observers];
        foreach (var o in observers) o(revocation);
        TaskCompletionSource previous;
        lock (_appliedGate)
        {
            previous = _applied;
            _applied = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        previous.TrySetResult();
    }

    /// <summary>
    /// Completes when the next revocation is applied here, or after <paramref name="timeout"/> (a long-poll waits on
    /// it; callers re-read the log either way, so one that raced the call is found by the re-read).
    /// </summary>
    public async Task WaitForNextAsync(TimeSpan timeout, CancellationToken ct)
    {
        Task signal;
        lock (_appliedGate) signal = _applied.Task;
        try { await signal.WaitAsync(timeout, _time, ct).ConfigureAwait(false); }
        catch (TimeoutException) { }
    }

    // Each announcement is measured once, when first applied here (a push, or the replay that found it).
    private void Measure(in RevocationEntry entry)
    {
        if (_metrics is null) return;
        long seen;
        do
        {
            seen = Interlocked.Read(ref _measuredCursor);
            if (entry.Cursor <= seen) return;
        }
        while (Interlocked.CompareExchange(ref _measuredCursor, entry.Cursor, seen) != seen);
        _metrics.RevocationPropagation.Record((_time.GetUtcNow() - entry.Revocation.At).TotalMilliseconds);
    }

    private void RequestReplay()
    {
        if (Interlocked.Exchange(ref _replayRequested, 1) == 1) return;
        _ = Task.Run(async () =>
        {
            Interlocked.Exchange(ref _replayRequested, 0);
            try { await ReplayAsync(_stop.Token).ConfigureAwait(false); }
            catch (Exception ex) when (ex is not OperationCanceledException) { LogReplayFailed(ex); }
        });
    }

    private async Task PeriodicAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(_options.ReplayInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                try
                {
                    await ReplayAsync(ct).ConfigureAwait(false);
                    Set.Prune(_time.GetUtcNow());
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogReplayFailed(ex);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Stops the listener loop and drops the channel subscription.</summary>
    /// <inheritdoc/>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _stop.Cancel();
        if (_subscription is not null) await _subscription.DisposeAsync().ConfigureAwait(false);
        if (_loop is not null) await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "RevocationRecord push connected; replaying from the cursor.")]
    private partial void LogConnected();

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "RevocationRecord push disconnected.")]
    private partial void LogDisconnected();

    [LoggerMessage(EventId = 3103, Level = LogLevel.Warning, Message = "RevocationRecord replay failed; retrying.")]
    private partial void LogReplayFailed(Exception ex);

    [LoggerMessage(EventId = 3104, Level = LogLevel.Error, Message = "RevocationRecord state stale and the store fallback failed; refusing.")]
    private partial void LogFallbackFailed(Exception ex);
}
