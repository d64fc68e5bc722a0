using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Bouncer.Diagnostics;
using Bouncer.Revocation;
using Bouncer.Sessions;
using Microsoft.Extensions.Logging;

namespace Bouncer.Refresh;

/// <summary>
/// Refresh tokens: opaque 256-bit values stored hashed, one family per login, rotated on every use,
/// reuse after a short grace window treated as theft (the family, its session and its access tokens are
/// revoked and pushed to every verifier). Thread-safe.
/// </summary>
/// <example>
/// <code>
/// var login = await refresh.IssueAsync("alice", scope: null, ct);       // login.RefreshToken, login.Access
/// var next = await refresh.RefreshAsync(login.RefreshToken!, ct);        // next.Succeeded, next.ReasonCode
/// </code>
/// </example>
public sealed class RefreshTokenService
{
    // Refreshes per family in the current one-minute window (on this instance), on the service's clock.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (long Window, int Count)> _familyRefreshes = new(StringComparer.Ordinal);
    private long _prunedWindow;
    private static readonly byte[] SuccessorLabel = "bouncer refresh successor"u8.ToArray();
    private static readonly byte[] JtiLabel = "bouncer access jti"u8.ToArray();

    private readonly IRefreshTokenStore _store;
    private readonly IRevocationChannel _channel;
    private readonly TimeProvider _time;
    private readonly RefreshOptions _options;
    private readonly byte[] _derivationKey;
    private readonly BouncerAudit? _audit;
    private readonly Users.UserDirectory? _users;
    private readonly RevocationListener? _revocations;
    private readonly BouncerMetrics? _metrics;

    /// <param name="store">Where families persist (hashed).</param>
    /// <param name="channel">The deployment's revocation channel: every family revocation is announced on it.</param>
    /// <param name="time">The clock; null: the system clock.</param>
    /// <param name="options">The policy; null: the defaults. Validated, never changed.</param>
    /// <param name="logger">Unused since the audit trail took over its events; kept for callers that pass one.</param>
    /// <param name="derivationKey">The deployment's shared derivation secret (at least 32 bytes); null:
    /// <see cref="RefreshOptions.DerivationKey"/>, else a random key for this process only.</param>
    /// <param name="audit">The audit trail, or null.</param>
    /// <param name="metrics">The instruments, or null.</param>
    /// <param name="users">The accounts: a refresh of a suspended or deleted user is refused and ends the family, and the
    /// new access token carries the account's current roles (never the family's copy). Null: the family's roles.</param>
    /// <param name="revocations">This instance's revocation state: a token issued before a global cut-off is refused.</param>
    public RefreshTokenService(IRefreshTokenStore store, IRevocationChannel channel, TimeProvider? time = null, RefreshOptions? options = null,
        ILogger<RefreshTokenService>? logger = null, byte[]? derivationKey = null, BouncerAudit? audit = null, BouncerMetrics? metrics = null,
        Users.UserDirectory? users = null, RevocationListener? revocations = null)
    {
        _users = users;
        _revocations = revocations;
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _channel = channel ?? throw new ArgumentNullException(nameof(channel));
        _time = time ?? TimeProvider.System;
        _options = options ?? new RefreshOptions();

        _options.Validate();
        if (derivationKey is { Length: < 32 }) throw new ArgumentOutOfRangeException(nameof(derivationKey), "The derivation key must be at least 32 bytes.");
        _derivationKey = derivationKey ?? _options.DerivationKey ?? RandomNumberGenerator.GetBytes(32);
        _audit = audit;
        _metrics = metrics;
    }

    /// <summary>
    /// A keyed digest under the deployment's derivation secret, for values every instance must compute alike (the
    /// anti-forgery token bound to a session id). Distinct labels keep uses apart.
    /// </summary>
    public string DeriveTag(string label, string input)
    {
        Span<byte> mac = stackalloc byte[32];
        Derive(Encoding.ASCII.GetBytes(label), input, mac);
        return Base64Url.EncodeToString(mac);
    }

    // Every use is one round trip, counted on the operation's trace (the simulator shows that a refresh reads the store).
    private IRefreshTokenStore Store
    {
        get
        {
            BouncerTrace.StoreRoundTrip();
            return _store;
        }
    }

    /// <summary>The policy in force.</summary>
    public RefreshOptions Options => _options;

    /// <summary>Starts a family at login: a refresh token and the first access grant.</summary>
    /// <param name="userId">The user who logged in.</param>
    /// <param name="scope">Roles or scope for the family's access tokens (space-separated), or null.</param>
    /// <param name="ct">Cancels the store write.</param>
    /// <param name="authTime">When the user proved the password (<see cref="RefreshRecord.AuthTime"/>, the
    /// <c>auth_time</c> of every access token of the family); null: now. Whole milliseconds are kept.</param>
    public ValueTask<RefreshResult> IssueAsync(string userId, string? scope, CancellationToken ct, DateTimeOffset? authTime = null) =>
        IssueAsync(userId, scope, ct, authTime, null);

    /// <summary>Starts a family at login, bound to the DPoP key <paramref name="dpopJkt"/> when it is set (RFC 9449 5).</summary>
    /// <param name="userId">The user who logged in.</param>
    /// <param name="scope">Roles or scope for the family's access tokens (space-separated), or null.</param>
    /// <param name="ct">Cancels the store write.</param>
    /// <param name="authTime">When the user proved the password; null: now.</param>
    /// <param name="dpopJkt">The thumbprint of the DPoP key the login's proof was signed by: the family is bound to it
    /// (<see cref="RefreshRecord.DpopJkt"/>). Null: unbound.</param>
    public async ValueTask<RefreshResult> IssueAsync(string userId, string? scope, CancellationToken ct, DateTimeOffset? authTime, string? dpopJkt)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        var now = IssueTime(userId);
        var token = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var familyId = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));
        var familyExpires = now + _options.FamilyLifetime;
        var record = new RefreshRecord
        {
            TokenHash = Hash(token),
            FamilyId = familyId,
            UserId = userId,
            Generation = 0,
            IssuedAt = now,
            AuthTime = authTime is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at.ToUnixTimeMilliseconds()) : Now(),
            ExpiresAt = Min(now + _options.IdleLimit, familyExpires),
            FamilyExpiresAt = familyExpires,
            Scope = scope,
            DpopJkt = dpopJkt,
            Client = ClientTag(),
        };
        await Store.CreateAsync(record, ct).ConfigureAwait(false);
        return new RefreshResult(RefreshOutcome.Issued, token, GrantFor(token, record), record.ExpiresAt);
    }

    /// <summary>
    /// Exchanges a refresh token for a new pair. Never throws on bad input: the outcome says why.
    /// </summary>
    public ValueTask<RefreshResult> RefreshAsync(string? presented, CancellationToken ct) => RefreshAsync(presented, null, ct);

    /// <summary>
    /// Exchanges a refresh token for a new pair, with the thumbprint of the key that signed the request's DPoP proof
    /// (null: no valid proof). A bound family (<see cref="RefreshRecord.DpopJkt"/>) is refreshed only with a proof by
    /// its key, also within the grace window, so a copied token is useless without the client's key.
    /// </summary>
    public ValueTask<RefreshResult> RefreshAsync(string? presented, string? dpopJkt, CancellationToken ct) =>
        BouncerActivities.IsTraced ? RefreshTracedAsync(presented, dpopJkt, ct) : RefreshCoreAsync(presented, dpopJkt, ct);

    // The span names the outcome and its failure code, never the token or the family.
    private async ValueTask<RefreshResult> RefreshTracedAsync(string? presented, string? dpopJkt, CancellationToken ct)
    {
        using var activity = BouncerActivities.Start(BouncerActivities.Refresh);
        try
        {
            var result = await RefreshCoreAsync(presented, dpopJkt, ct).ConfigureAwait(false);
            BouncerActivities.SetOutcome(activity, result.Outcome switch
            {
                RefreshOutcome.Issued => "issued",
                RefreshOutcome.Replayed => "replayed",
                _ => "refused",
            }, result.ReasonCode);
            return result;
        }
        catch (Exception ex) when (BouncerActivities.Failed(activity, ex))
        {
            throw;
        }
    }

    private async ValueTask<RefreshResult> RefreshCoreAsync(string? presented, string? dpopJkt, CancellationToken ct)
    {
        if (!SessionId.TryGetKey(presented, out _)) return RefreshResult.InvalidResult;   // same 43-char canonical form
        var hash = Hash(presented!);
        var record = await Store.GetAsync(hash, ct).ConfigureAwait(false);
        if (record is null) return RefreshResult.InvalidResult;
        if (record.Revoked) return RefreshResult.RevokedResult;
        // RFC 9449 5: a refresh token bound to a DPoP key needs a proof by that key.
        if (record.DpopJkt is not null && !string.Equals(record.DpopJkt, dpopJkt, StringComparison.Ordinal)) return RefreshResult.DpopKeyMismatchResult;
        // Per family, counted once its record is read (no extra round trip): parallel replays of one token are bounded.
        if (!TakeFamilyRefresh(record.FamilyId)) return RefreshResult.RateLimitedResult;
        var now = Now();
        if (now >= record.FamilyExpiresAt) return RefreshResult.ExpiredResult;
        // Revoke-everyone: every refresh token alive at the cut-off was issued before it (whole seconds, as tokens).
        if (_revocations is not null && record.IssuedAt.ToUnixTimeSeconds() < _revocations.Set.EveryoneNotBefore)
        {
            await RevokeFamilyAsync(record.UserId, record.FamilyId, "revoked_everyone", ct).ConfigureAwait(false);
            return RefreshResult.RevokedResult;
        }
        // The user signed out everywhere after this token was issued: its family is over here at once, before the
        // announcing instance's store revoke (or its family entries) arrive, and durably so should that revoke fail.
        if (_revocations is not null && record.IssuedAt.ToUnixTimeMilliseconds() < _revocations.Set.SessionsNotBefore(record.UserId))
        {
            await RevokeFamilyAsync(record.UserId, record.FamilyId, "signed_out", ct).ConfigureAwait(false);
            return RefreshResult.RevokedResult;
        }
        // The account decides what the next token says: a suspended or deleted user gets nothing and loses the family.
        string? scope = record.Scope;
        if (_users is not null)
        {
            var user = await _users.GetAsync(record.UserId, ct).ConfigureAwait(false);
            if (user is null || user.Suspended)
            {
                await RevokeFamilyAsync(record.UserId, record.FamilyId, user is null ? "user_deleted" : "user_suspended", ct).ConfigureAwait(false);
                return user is null ? RefreshResult.RevokedResult : RefreshResult.SuspendedResult;
            }
            scope = user.Roles.Length == 0 ? null : user.Roles;
        }

        var successorToken = Successor(presented!);
        if (record.RotatedAt is null)
        {
            if (now >= record.ExpiresAt) return RefreshResult.ExpiredResult;
            var successor = new RefreshRecord
            {
                TokenHash = Hash(successorToken),
                FamilyId = record.FamilyId,
                UserId = record.UserId,
                Generation = record.Generation + 1,
                IssuedAt = IssueTime(record.UserId, now),
                AuthTime = record.AuthTime,
                ExpiresAt = Min(now + _options.IdleLimit, record.FamilyExpiresAt),
                FamilyExpiresAt = record.FamilyExpiresAt,
                Scope = scope,
                DpopJkt = record.DpopJkt,
                Client = ClientTag(),
            };
            if (await Store.RotateAsync(hash, now, successor, ct).ConfigureAwait(false))
                return new RefreshResult(RefreshOutcome.Issued, successorToken, GrantFor(successorToken, successor), successor.ExpiresAt);
            // A concurrent refresh of the same token won the rotation: answer as a replay of it.
            record = await Store.GetAsync(hash, ct).ConfigureAwait(false);
            if (record is null) return RefreshResult.InvalidResult;
            if (record.Revoked) return RefreshResult.RevokedResult;
            if (record.RotatedAt is null) return RefreshResult.InvalidResult;
        }

        // RFC 9700 4.14.2: a rotated token presented again means two parties hold it. Within the grace
        // window it is a retry or a second tab, and gets the successor it already has.
        if (now - record.RotatedAt!.Value <= _options.GraceWindow)
        {
            var existing = await Store.GetAsync(Hash(successorToken), ct).ConfigureAwait(false);
            if (existing is null) return RefreshResult.InvalidResult;
            if (existing.Revoked) return RefreshResult.RevokedResult;
            // RFC 9700 4.14.2: a second tab or a retry comes from the client the successor went to; a copy from another
            // address or user agent is a second holder of the token, so the family ends as for any reuse.
            if (_options.TreatReplayFromAnotherClientAsTheft && existing.Client is { } handedTo && ClientTag() is { } replayer && replayer != handedTo)
            {
                await RevokeFamilyAsync(record.UserId, record.FamilyId, FailureCodes.RefreshTokenReused, ct).ConfigureAwait(false);
                return RefreshResult.ReusedResult;
            }
            // A copy presented inside the window looks like a retry: keep a trace of every one (RFC 9700 4.14.2).
            if (_audit is not null) await _audit.RecordAsync(AuditEventKind.RefreshReplayed, record.UserId, record.FamilyId, "grace_window", ct).ConfigureAwait(false);
            return new RefreshResult(RefreshOutcome.Replayed, successorToken, GrantFor(successorToken, existing), existing.ExpiresAt);
        }

        await RevokeFamilyAsync(record.UserId, record.FamilyId, FailureCodes.RefreshTokenReused, ct).ConfigureAwait(false);
        return RefreshResult.ReusedResult;
    }

    /// <summary>
    /// Revokes one family (logout, admin): its refresh tokens in the store, and its access tokens at every
    /// verifier through a <c>sid</c> revocation.
    /// </summary>
    public async ValueTask RevokeFamilyAsync(string userId, string familyId, string reason, CancellationToken ct)
    {
        await Store.RevokeFamilyAsync(familyId, ct).ConfigureAwait(false);
        var now = Now();
        await _channel.PublishAsync(new RevocationRecord(RevocationKind.Session, familyId, now, now + _options.AccessTokenLifetime + _options.ClockSkew), ct).ConfigureAwait(false);
        await AuditAsync(reason, userId, familyId, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// "Log out everywhere" for tokens: revokes every family of the user by <c>sid</c> and sets a user
    /// cut-off, so any access token of the user issued before now is refused everywhere.
    /// </summary>
    public async ValueTask<int> RevokeUserAsync(string userId, string reason, CancellationToken ct)
    {
        var now = Now();
        var until = now + _options.AccessTokenLifetime + _options.ClockSkew;
        // The cut-off first, before the store: it alone refuses every access token minted before this second on
        // every instance, so the refusal elsewhere does not wait for the families' round trips. A refresh racing it
        // mints at or after the cut-off (IssueTime), under a family whose record below refuses it.
        await _channel.PublishAsync(new RevocationRecord(RevocationKind.User, userId, now, until), ct).ConfigureAwait(false);
        // Past the announcement the rest is not cancelled with the request: a client that hangs up must not leave the
        // families alive behind a cut-off that only covers access tokens.
        ct = CancellationToken.None;
        var families = await Store.RevokeUserAsync(userId, ct).ConfigureAwait(false);
        // RFC 7009 2.1: revoking a grant ends every token of it; each family's record covers its tokens of the same second.
        foreach (var family in families)
            await _channel.PublishAsync(new RevocationRecord(RevocationKind.Session, family, now, until), ct).ConfigureAwait(false);
        await AuditAsync(reason, userId, "*", ct).ConfigureAwait(false);
        return families.Count;
    }

    /// <summary>The family (sid) a refresh token belongs to, or null when unknown.</summary>
    public async ValueTask<RefreshRecord?> FindAsync(string? presented, CancellationToken ct) =>
        SessionId.TryGetKey(presented, out _) ? await Store.GetAsync(Hash(presented!), ct).ConfigureAwait(false) : null;

    private bool TakeFamilyRefresh(string familyId)
    {
        long window = Now().ToUnixTimeSeconds() / 60;
        var entry = _familyRefreshes.AddOrUpdate(familyId, static (_, w) => (w, 1), static (_, e, w) => e.Window == w ? (w, e.Count + 1) : (w, 1), window);
        // Past windows are dropped at most once a window, so the map holds about one minute of families.
        if (Interlocked.Exchange(ref _prunedWindow, window) != window)
            foreach (var (key, value) in _familyRefreshes)
                if (value.Window < window) _familyRefreshes.TryRemove(key, out _);
        return entry.Count <= _options.RefreshesPerFamilyPerMinute;
    }

    // A keyed tag of the calling client (address and user agent), so the store never holds either; null outside a
    // request (the CLI, a worker), where no replay comparison applies.
    private string? ClientTag() =>
        BouncerCaller.Current is { } caller && (caller.ClientAddress is not null || caller.UserAgent is not null)
            ? DeriveTag("client", caller.ClientAddress + "\n" + caller.UserAgent)
            : null;

    private AccessGrant GrantFor(string refreshToken, RefreshRecord record)
    {
        // The jti derives from the refresh token it came with, so a replay in the grace window mints
        // an access token with the very same claims.
        Span<byte> mac = stackalloc byte[32];
        Derive(JtiLabel, refreshToken, mac);
        var jti = Base64Url.EncodeToString(mac[..16]);
        return new AccessGrant(record.UserId, record.FamilyId, jti, record.IssuedAt, record.IssuedAt + _options.AccessTokenLifetime, record.Scope)
        {
            AuthTime = record.AuthTime,
            DpopJkt = record.DpopJkt,
        };
    }

    private string Successor(string presented)
    {
        Span<byte> mac = stackalloc byte[32];
        Derive(SuccessorLabel, presented, mac);
        return Base64Url.EncodeToString(mac);
    }

    private void Derive(byte[] label, string input, Span<byte> destination)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _derivationKey);
        hmac.AppendData(label);
        hmac.AppendData(Encoding.ASCII.GetBytes(input));
        hmac.GetHashAndReset(destination);
    }

    private static string Hash(string token)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.ASCII.GetBytes(token), digest);
        return Base64Url.EncodeToString(digest);
    }

    private async ValueTask AuditAsync(string reason, string userId, string familyId, CancellationToken ct)
    {
        var reuse = reason == FailureCodes.RefreshTokenReused;
        if (reuse) _metrics?.ReuseDetected.Add(1);
        _metrics?.Revocations.Add(1, new KeyValuePair<string, object?>("kind", reason));
        if (_audit is null) return;
        await _audit.RecordAsync(reuse ? AuditEventKind.RefreshReuseDetected : familyId == "*" ? AuditEventKind.UserCutOff : AuditEventKind.RefreshFamilyRevoked,
            userId, familyId == "*" ? null : familyId, reason, ct).ConfigureAwait(false);
    }

    // Now, or the user's (or the global) cut-off when that is later: a grant minted just after a cut-off that starts
    // at the next whole second, or just after a sign-out stamped by an instance whose clock runs ahead, must not be
    // refused by it.
    private DateTimeOffset IssueTime(string userId, DateTimeOffset? now = null)
    {
        var at = now ?? Now();
        if (_revocations is null) return at;
        var notBefore = _revocations.Set.NotBefore(userId);
        if (notBefore > at.ToUnixTimeSeconds()) at = DateTimeOffset.FromUnixTimeSeconds(notBefore);
        var signedOut = _revocations.Set.SessionsNotBefore(userId);
        return signedOut > at.ToUnixTimeMilliseconds() ? DateTimeOffset.FromUnixTimeMilliseconds(signedOut) : at;
    }

    private DateTimeOffset Now() => DateTimeOffset.FromUnixTimeMilliseconds(_time.GetUtcNow().ToUnixTimeMilliseconds());

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

}
