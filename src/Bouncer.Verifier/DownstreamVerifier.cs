using System.Buffers;
using System.Buffers.Text;
using System.Collections.Frozen;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Bouncer.Revocation;
using Bouncer.Tokens;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Bouncer.Verifier;

/// <summary>
/// The outcome of <see cref="DownstreamVerifier.VerifyAsync"/>: the claims of an accepted token and its issuer, or a
/// stable reason code from <see cref="FailureCodes"/> (a verification code, <c>untrusted_issuer</c>,
/// <c>keys_unavailable</c>, <c>missing_sub</c>, <c>token_revoked</c> or <c>revocation_state_stale</c>).
/// </summary>
public readonly record struct DownstreamResult(string? Failure, AccessClaims Claims, string? Issuer)
{
    /// <summary>True when the token was accepted; <see cref="Claims"/> is then set.</summary>
    public bool IsValid => Failure is null;
}

/// <summary>
/// Verifies access tokens in a service downstream of a Bouncer server, with no store of its own: keys come from the
/// authority's JWKS (and configured outside issuers' JWKS), revocations from the authority's feed. Started with the
/// host (<see cref="IHostedService"/>): discovery, keys and the first revocation replay must load within
/// <see cref="BouncerVerifierOptions.StartupTimeout"/> or the host fails to start. Verification makes no network call,
/// except the listener's catch-up when the revocation state is stale and the policy is to fall back to the server.
/// Thread-safe.
/// </summary>
/// <example><code>
/// builder.Services.AddBouncerVerifier(o => { o.Authority = "http://auth.internal:5000"; o.Audience = "orders"; });
/// app.UseAuthentication(); app.UseAuthorization();
/// app.MapGet("/orders", (ClaimsPrincipal u) => u.FindFirst("sub")!.Value).RequireAuthorization();
/// </code></example>
public sealed class DownstreamVerifier : IHostedService, IAsyncDisposable
{
    private const int MaxTokenBytes = 8192;

    private readonly BouncerVerifierOptions _options;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly HttpClient _http;
    private readonly List<IssuerKeys> _all = [];
    private volatile FrozenDictionary<string, IssuerKeys> _issuers = FrozenDictionary<string, IssuerKeys>.Empty;
    private HttpRevocationChannel? _channel;

    /// <summary>A verifier for the issuers in <paramref name="options"/>; keys and revocations are fetched once started.</summary>
    /// <param name="options">The trusted issuers and their endpoints.</param>
    /// <param name="time">The clock; the system clock when null.</param>
    /// <param name="loggers">The log factory, or null for none.</param>
    public DownstreamVerifier(IOptions<BouncerVerifierOptions> options, TimeProvider? time = null, ILoggerFactory? loggers = null)
    {
        _options = options.Value;
        _options.Validate();
        _time = time ?? TimeProvider.System;
        _loggers = loggers ?? NullLoggerFactory.Instance;
        _logger = _loggers.CreateLogger<DownstreamVerifier>();
        // Each call sets its own deadline (the long-poll wait varies); redirects are not followed, so a key URL is
        // exactly the configured one.
        // One DPoP validator for the service: its jti cache is shared by every request verified here (RFC 9449 11.1). Its
        // nonces come from the configured secret, shared by the replicas (RFC 9449 9); validation requires one with
        // RequireNonce, and without RequireNonce no nonce is asked for.
        var nonceKey = _options.DpopNonceKeyBytes();
        Dpop = new Bouncer.Dpop.DpopProofValidator(_options.Dpop, _time, null,
            nonceKey is null ? null : new Bouncer.Dpop.DpopNonces(nonceKey, _options.Dpop.NonceLifetime, _time));
        _http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>The revocation state of the authority's tokens; null without an authority or before start.</summary>
    public RevocationListener? Revocations { get; private set; }

    /// <summary>The authority's issuer (from discovery or configuration); null without an authority or before start.</summary>
    public string? AuthorityIssuer { get; private set; }

    internal IssuerKeys? KeysOf(string issuer) => _issuers.GetValueOrDefault(issuer);

    /// <summary>The DPoP proof validator of this service (RFC 9449), used by <see cref="BouncerVerifierHandler"/>.</summary>
    public Bouncer.Dpop.DpopProofValidator Dpop { get; }

    /// <summary>True when tokens of <paramref name="issuer"/> must be DPoP-bound here (the mode, or its audience listed as required).</summary>
    public bool DpopRequiredFor(string issuer)
    {
        ArgumentNullException.ThrowIfNull(issuer);
        var audience = issuer == AuthorityIssuer ? _options.Audience : _options.Issuers.FirstOrDefault(i => i.Issuer == issuer)?.Audience;
        return _options.Dpop.BindingRequiredFor(audience);
    }

    /// <inheritdoc/>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var issuers = new Dictionary<string, IssuerKeys>(StringComparer.Ordinal);
        if (_options.Authority is not null)
        {
            var authority = await StartAuthorityAsync(cancellationToken).ConfigureAwait(false);
            issuers.Add(authority.Issuer, authority);
        }
        foreach (var trusted in _options.Issuers)
        {
            if (issuers.ContainsKey(trusted.Issuer))
                throw new InvalidOperationException($"BouncerVerifier: outside issuer '{trusted.Issuer}' is the authority's own issuer.");
            var keys = new IssuerKeys(trusted.Issuer, isAuthority: false, ct => LoadOutsideAsync(trusted, ct), new VerifyOptions
            {
                Issuer = trusted.Issuer,
                Audience = trusted.Audience,
                RequireTyp = trusted.RequireTyp,
                AcceptedTypes = trusted.AcceptedTypes,
                ClockSkew = trusted.ClockSkew,
                MaxTokenBytes = MaxTokenBytes,
            }, _options.JwksRefreshInterval, _options.UnknownKidRefreshInterval, _time, _logger);
            _all.Add(keys);
            issuers.Add(trusted.Issuer, keys);
            // An outside issuer that is down at start must not stop this service: its tokens are refused
            // (keys_unavailable) until the schedule loads its keys.
            try { await keys.RefreshAsync(cancellationToken).ConfigureAwait(false); }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                _logger.KeyRefreshFailed(trusted.Issuer, ex);
            }
            keys.StartSchedule();
        }
        _issuers = issuers.ToFrozenDictionary(StringComparer.Ordinal);
        _logger.Started(AuthorityIssuer, _options.Issuers.Count);
    }

    private async Task<IssuerKeys> StartAuthorityAsync(CancellationToken cancellationToken)
    {
        var authority = new Uri(_options.Authority!.TrimEnd('/') + "/");
        using var startup = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        startup.CancelAfter(_options.StartupTimeout);
        Discovery discovery;
        while (true)
        {
            try
            {
                discovery = await GetJsonAsync<Discovery>(new Uri(authority, ".well-known/openid-configuration"), startup.Token).ConfigureAwait(false);
                break;
            }
            catch (Exception ex) when (!startup.IsCancellationRequested && ex is HttpRequestException or TaskCanceledException or JsonException)
            {
                _logger.AuthorityUnreachable(ex);
                await Task.Delay(TimeSpan.FromMilliseconds(250), _time, startup.Token).ConfigureAwait(false);
            }
        }
        if (string.IsNullOrEmpty(discovery.Issuer)) throw new InvalidOperationException("The authority's discovery document names no issuer.");
        if (_options.Issuer is not null && _options.Issuer != discovery.Issuer)
            throw new InvalidOperationException($"BouncerVerifier:Issuer is '{_options.Issuer}' but the authority says '{discovery.Issuer}'.");
        // The document may only point at the configured authority: a key or feed URL elsewhere is refused, so keys
        // come from configuration alone.
        var jwksUri = SameOrigin(authority, discovery.JwksUri, "jwks_uri");
        var feedUri = SameOrigin(authority, discovery.RevocationFeedEndpoint ?? new Uri(authority, "auth/revocations").ToString(), "revocation_feed_endpoint");
        AuthorityIssuer = discovery.Issuer;

        var keys = new IssuerKeys(discovery.Issuer, isAuthority: true, async ct =>
        {
            // Bouncer's own JWKS is strict (every key has alg and kid): the core loader applies every rule.
            var json = await GetStringAsync(jwksUri, ct).ConfigureAwait(false);
            return JwkSet.Parse(json);
        }, new VerifyOptions { Issuer = discovery.Issuer, Audience = _options.Audience!, MaxTokenBytes = MaxTokenBytes },
            _options.JwksRefreshInterval, _options.UnknownKidRefreshInterval, _time, _logger);
        _all.Add(keys);

        _channel = new HttpRevocationChannel(_http, feedUri, _options.RevocationLongPollWait, _options.BackchannelTimeout, _time,
            _loggers.CreateLogger<HttpRevocationChannel>(), _options.RevocationFeedKey);
        Revocations = new RevocationListener(_channel, _options.Revocation, _time, _loggers.CreateLogger<RevocationListener>());
        keys.Revocations = Revocations;
        // A revoked key is refused from the announcement on (the revocation state); the JWKS is re-read too, so the key
        // also leaves the cached set well before the announcement expires.
        Revocations.Observe(r => { if (r.Kind == RevocationKind.Key) keys.OnUnknownKid(); });
        while (true)
        {
            try
            {
                await keys.RefreshAsync(startup.Token).ConfigureAwait(false);
                break;
            }
            catch (Exception ex) when (!startup.IsCancellationRequested && ex is HttpRequestException or TaskCanceledException)
            {
                _logger.AuthorityUnreachable(ex);
                await Task.Delay(TimeSpan.FromMilliseconds(250), _time, startup.Token).ConfigureAwait(false);
            }
        }
        keys.StartSchedule();
        // Subscribe, then replay the whole retained log: tokens revoked before this service started are refused too.
        await Revocations.StartAsync(startup.Token).ConfigureAwait(false);
        return keys;
    }

    /// <summary>
    /// Verifies a compact JWS: picks the issuer by the token's <c>iss</c> (read without trusting it), verifies with that
    /// issuer's keys and rules alone, then, for the authority's tokens, checks revocation. Never throws on a bad token.
    /// Completes synchronously unless the revocation state is stale under <see cref="StalenessPolicy.FallBackToStore"/>.
    /// </summary>
    public ValueTask<DownstreamResult> VerifyAsync(string token, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (token.Length > MaxTokenBytes) return Fail(FailureCodes.TooLarge);
        var claimed = ReadUntrustedIssuer(token);
        if (claimed is null) return Fail(FailureCodes.Malformed);
        // Isolation: the iss picks exactly one issuer; its verifier then requires that same iss and only its keys,
        // so a key of issuer A can never vouch for a token claiming issuer B.
        if (!_issuers.TryGetValue(claimed, out var keys)) return Fail(FailureCodes.UntrustedIssuer);

        var validator = keys.Validator;
        if (validator is null) return Fail(FailureCodes.KeysUnavailable);
        // The one bearer pipeline (as the server's): verified by this issuer's keys and rules alone, claims read once,
        // and for the authority's tokens the revocation verdict.
        var check = validator.ValidateAsync(token, ct);
        return check.IsCompletedSuccessfully ? ValueTask.FromResult(Judge(check.Result, keys)) : AwaitCheckAsync(check, keys);
    }

    private static async ValueTask<DownstreamResult> AwaitCheckAsync(ValueTask<AccessTokenResult> check, IssuerKeys keys) =>
        Judge(await check.ConfigureAwait(false), keys);

    private static DownstreamResult Judge(AccessTokenResult result, IssuerKeys keys)
    {
        if (result.IsValid) return new DownstreamResult(null, result.Claims, keys.Issuer);
        // The issuer may have rotated; the refresh runs in the background (rate-limited), never in this request.
        if (result.Failure == FailureCodes.UnknownKid) keys.OnUnknownKid();
        return new DownstreamResult(result.Failure, default, null);
    }

    private static ValueTask<DownstreamResult> Fail(string reason) => ValueTask.FromResult(new DownstreamResult(reason, default, null));

    /// <summary>
    /// The payload's top-level <c>iss</c>, read without verifying anything: only to choose which issuer's verifier
    /// judges the token. Null when the token is not three base64url parts over a JSON object with a string iss.
    /// </summary>
    internal static string? ReadUntrustedIssuer(ReadOnlySpan<char> token)
    {
        int dot1 = token.IndexOf('.');
        if (dot1 <= 0) return null;
        int dot2 = token[(dot1 + 1)..].IndexOf('.');
        if (dot2 <= 0) return null;
        var payload = token.Slice(dot1 + 1, dot2);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Base64Url.GetMaxDecodedLength(payload.Length));
        try
        {
            // The OperationStatus overload: the bool one throws on a bad character.
            if (Base64Url.DecodeFromChars(payload, buffer, out _, out int written) != OperationStatus.Done) return null;
            var reader = new Utf8JsonReader(buffer.AsSpan(0, written), new JsonReaderOptions { MaxDepth = 16 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isIss = reader.ValueTextEquals("iss"u8);
                reader.Read();
                if (isIss) return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                reader.Skip();
            }
            return null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: an escaped lone surrogate, which the reader refuses to turn into a string.
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task<JwkSet> LoadOutsideAsync(TrustedIssuer issuer, CancellationToken ct)
    {
        var json = await GetStringAsync(new Uri(issuer.JwksUri), ct).ConfigureAwait(false);
        return OutsideJwks.Parse(json, issuer.ParsedAlgorithms, (kid, reason) => _logger.KeySkipped(issuer.Issuer, kid, reason));
    }

    private async Task<string> GetStringAsync(Uri uri, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(_options.BackchannelTimeout);
        using var response = await _http.GetAsync(uri, deadline.Token).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync(deadline.Token).ConfigureAwait(false);
    }

    private async Task<T> GetJsonAsync<T>(Uri uri, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(_options.BackchannelTimeout);
        using var response = await _http.GetAsync(uri, deadline.Token).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<T>(deadline.Token).ConfigureAwait(false)
            ?? throw new JsonException($"{uri} answered null");
    }

    internal static Uri SameOrigin(Uri authority, string? value, string member)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri))
            throw new InvalidOperationException($"The authority's discovery document has no valid {member}.");
        if (Uri.Compare(uri, authority, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) != 0)
            throw new InvalidOperationException($"The authority's {member} is on another origin ({uri.GetLeftPart(UriPartial.Authority)}): refused.");
        return uri;
    }

    /// <inheritdoc/>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Revocations is not null) await Revocations.DisposeAsync().ConfigureAwait(false);
        Revocations = null;
        foreach (var keys in _all) await keys.DisposeAsync().ConfigureAwait(false);
        _all.Clear();
    }

    /// <summary>Stops the revocation feed and key refreshes and releases the HTTP client.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(default).ConfigureAwait(false);
        _http.Dispose();
    }

    private sealed record Discovery(
        [property: JsonPropertyName("issuer")] string? Issuer,
        [property: JsonPropertyName("jwks_uri")] string? JwksUri,
        [property: JsonPropertyName("revocation_feed_endpoint")] string? RevocationFeedEndpoint);
}
