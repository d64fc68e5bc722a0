using Bouncer.Tokens;
using Microsoft.Extensions.Logging;

namespace Bouncer.Verifier;

/// <summary>
/// The keys of one trusted issuer: a <see cref="JwsVerifier"/> over the last JWKS loaded, swapped whole when a
/// fresh set arrives (key rotation without restart), refreshed on a period and, rate-limited, on an unknown kid.
/// A failed refresh keeps the previous keys. Thread-safe; verification reads one volatile field and does no I/O.
/// </summary>
internal sealed class IssuerKeys : IAsyncDisposable
{
    private readonly Func<CancellationToken, Task<JwkSet>> _load;
    private readonly VerifyOptions _verifyOptions;
    private readonly TimeSpan _refreshInterval;
    private readonly TimeSpan _unknownKidInterval;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _refreshGate = new(1, 1);
    private volatile JwsVerifier? _verifier;
    private volatile AccessTokenValidator? _validator;
    private long _lastUnknownKidRefresh = long.MinValue;
    private Task? _loop;

    public IssuerKeys(string issuer, bool isAuthority, Func<CancellationToken, Task<JwkSet>> load, VerifyOptions verifyOptions,
        TimeSpan refreshInterval, TimeSpan unknownKidInterval, TimeProvider time, ILogger logger)
    {
        Issuer = issuer;
        IsAuthority = isAuthority;
        _load = load;
        _verifyOptions = verifyOptions;
        _refreshInterval = refreshInterval;
        _unknownKidInterval = unknownKidInterval;
        _time = time;
        _logger = logger;
    }

    public string Issuer { get; }

    /// <summary>True for the Bouncer server, whose tokens are also checked against the revocation feed.</summary>
    public bool IsAuthority { get; }

    /// <summary>The verifier over the current keys; null until the first JWKS has loaded.</summary>
    public JwsVerifier? Verifier => _verifier;

    /// <summary>The revocation state of this issuer's tokens (the authority's feed); null for outside issuers. Set before the first load.</summary>
    public Bouncer.Revocation.RevocationListener? Revocations { get; set; }

    /// <summary>The shared bearer pipeline over the current keys and this issuer's revocation state; null until the first JWKS has loaded.</summary>
    public AccessTokenValidator? Validator => _validator;

    private int _loads;

    /// <summary>How many JWKS loads were attempted: for tests and metrics.</summary>
    public int Loads => Volatile.Read(ref _loads);

    /// <summary>Loads the JWKS now and swaps in a verifier over it. Throws on failure (the previous keys stay).</summary>
    public async Task RefreshAsync(CancellationToken ct)
    {
        await _refreshGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            Interlocked.Increment(ref _loads);
            var set = await _load(ct).ConfigureAwait(false);
            // A new verifier per set: JwsVerifier is immutable over its key source, so readers never see a half-swapped set.
            var verifier = new JwsVerifier(set, _verifyOptions, _time);
            _validator = new AccessTokenValidator(verifier, Revocations);
            _verifier = verifier;
            _logger.KeysLoaded(Issuer, set.Keys.Count);
        }
        finally
        {
            _refreshGate.Release();
        }
    }

    /// <summary>Starts the periodic refresh (after a failed load, it retries sooner).</summary>
    public void StartSchedule() => _loop ??= Task.Run(() => ScheduleAsync(_stop.Token));

    /// <summary>
    /// A token named a kid the current keys lack: the issuer may have rotated. Starts a background refresh unless one
    /// was started within the rate-limit period. Returns true when a refresh was started. Never blocks.
    /// </summary>
    public bool OnUnknownKid()
    {
        long now = _time.GetTimestamp();
        long last = Interlocked.Read(ref _lastUnknownKidRefresh);
        if (last != long.MinValue && _time.GetElapsedTime(last, now) < _unknownKidInterval) return false;
        // One winner per period even when many requests race here.
        if (Interlocked.CompareExchange(ref _lastUnknownKidRefresh, now, last) != last) return false;
        _ = Task.Run(async () =>
        {
            try { await RefreshAsync(_stop.Token).ConfigureAwait(false); }
            catch (Exception ex) when (ex is not OperationCanceledException) { _logger.KeyRefreshFailed(Issuer, ex); }
        });
        return true;
    }

    private async Task ScheduleAsync(CancellationToken ct)
    {
        var failureRetry = _refreshInterval < TimeSpan.FromSeconds(5) ? _refreshInterval : TimeSpan.FromSeconds(5);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_verifier is null ? failureRetry : _refreshInterval, _time, ct).ConfigureAwait(false);
                await RefreshAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                _logger.KeyRefreshFailed(Issuer, ex);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null) await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
