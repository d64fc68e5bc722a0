using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Bouncer.Revocation;
using Bouncer.Sessions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

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
public sealed partial class RefreshTokenService
{
    private static readonly byte[] SuccessorLabel = "bouncer refresh successor"u8.ToArray();
    private static readonly byte[] JtiLabel = "bouncer access jti"u8.ToArray();

    private readonly IRefreshTokenStore _store;
    private readonly IRevocationChannel _channel;
    private readonly TimeProvider _time;
    private readonly RefreshOptions _options;
    private readonly byte[] _derivationKey;
    private readonly ILogger _logger;

    public RefreshTokenService(IRefreshTokenStore store, IRevocationChannel channel, TimeProvider? time = null, RefreshOptions? options = null, ILogger<RefreshTokenService>? logger = null)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _channel = channel ?? throw new ArgumentNullException(nameof(channel));
        _time = time ?? TimeProvider.System;
        _options = options ?? new RefreshOptions();
        _options.Validate();
        _derivationKey = _options.DerivationKey ?? RandomNumberGenerator.GetBytes(32);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>Called for every security event (reuse detected, family revoked).</summary>
    public Action<RefreshAuditEvent>? OnAudit { get; set; }

    /// <summary>The policy in force.</summary>
    public RefreshOptions Options => _options;

    /// <summary>Starts a family at login: a refresh token and the first access grant.</summary>
    public async ValueTask<RefreshResult> IssueAsync(string userId, string? scope, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        var now = Now();
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
            ExpiresAt = Min(now + _options.IdleLimit, familyExpires),
            FamilyExpiresAt = familyExpires,
            Scope = scope,
        };
        await _store.CreateAsync(record, ct).ConfigureAwait(false);
        return new RefreshResult(RefreshOutcome.Issued, token, GrantFor(token, record), record.ExpiresAt);
    }

    /// <summary>
    /// Exchanges a refresh token for a new pair. Never throws on bad input: the outcome says why.
    /// </summary>
    public async ValueTask<RefreshResult> RefreshAsync(string? presented, CancellationToken ct)
    {
        if (!SessionId.TryGetKey(presented, out _)) return RefreshResult.InvalidResult;   // same 43-char canonical form
        var hash = Hash(presented!);
        var record = await _store.GetAsync(hash, ct).ConfigureAwait(false);
        if (record is null) return RefreshResult.InvalidResult;
        if (record.Revoked) return RefreshResult.RevokedResult;
        var now = Now();
        if (now >= record.FamilyExpiresAt) return RefreshResult.ExpiredResult;

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
                IssuedAt = now,
                ExpiresAt = Min(now + _options.IdleLimit, record.FamilyExpiresAt),
                FamilyExpiresAt = record.FamilyExpiresAt,
                Scope = record.Scope,
            };
            if (await _store.RotateAsync(hash, now, successor, ct).ConfigureAwait(false))
                return new RefreshResult(RefreshOutcome.Issued, successorToken, GrantFor(successorToken, successor), successor.ExpiresAt);
            // A concurrent refresh of the same token won the rotation: answer as a replay of it.
            record = await _store.GetAsync(hash, ct).ConfigureAwait(false);
            if (record is null) return RefreshResult.InvalidResult;
            if (record.Revoked) return RefreshResult.RevokedResult;
            if (record.RotatedAt is null) return RefreshResult.InvalidResult;
        }

        // RFC 9700 4.14.2: a rotated token presented again means two parties hold it. Within the grace
        // window it is a retry or a second tab, and gets the successor it already has.
        if (now - record.RotatedAt!.Value <= _options.GraceWindow)
        {
            var existing = await _store.GetAsync(Hash(successorToken), ct).ConfigureAwait(false);
            if (existing is null) return RefreshResult.InvalidResult;
            if (existing.Revoked) return RefreshResult.RevokedResult;
            return new RefreshResult(RefreshOutcome.Replayed, successorToken, GrantFor(successorToken, existing), existing.ExpiresAt);
        }

        await RevokeFamilyAsync(record.UserId, record.FamilyId, "refresh_token_reused", ct).ConfigureAwait(false);
        return RefreshResult.ReusedResult;
    }

    /// <summary>
    /// Revokes one family (logout, admin): its refresh tokens in the store, and its access tokens at every
    /// verifier through a <c>sid</c> revocation.
    /// </summary>
    public async ValueTask RevokeFamilyAsync(string userId, string familyId, string reason, CancellationToken ct)
    {
        await _store.RevokeFamilyAsync(familyId, ct).ConfigureAwait(false);
        var now = Now();
        await _channel.PublishAsync(new RevocationRecord(RevocationKind.Session, familyId, now, now + _options.AccessTokenLifetime + _options.ClockSkew), ct).ConfigureAwait(false);
        Audit(reason, userId, familyId, now);
    }

    /// <summary>
    /// "Log out everywhere" for tokens: revokes every family of the user by <c>sid</c> and sets a user
    /// cut-off, so any access token of the user issued before now is refused everywhere.
    /// </summary>
    public async ValueTask<int> RevokeUserAsync(string userId, string reason, CancellationToken ct)
    {
        var families = await _store.RevokeUserAsync(userId, ct).ConfigureAwait(false);
        var now = Now();
        var until = now + _options.AccessTokenLifetime + _options.ClockSkew;
        foreach (var family in families)
            await _channel.PublishAsync(new RevocationRecord(RevocationKind.Session, family, now, until), ct).ConfigureAwait(false);
        await _channel.PublishAsync(new RevocationRecord(RevocationKind.User, userId, now, until), ct).ConfigureAwait(false);
        Audit(reason, userId, "*", now);
        return families.Count;
    }

    /// <summary>The family (sid) a refresh token belongs to, or null when unknown.</summary>
    public async ValueTask<RefreshRecord?> FindAsync(string? presented, CancellationToken ct) =>
        SessionId.TryGetKey(presented, out _) ? await _store.GetAsync(Hash(presented!), ct).ConfigureAwait(false) : null;

    private AccessGrant GrantFor(string refreshToken, RefreshRecord record)
    {
        // The jti derives from the refresh token it came with, so a replay in the grace window mints
        // an access token with the very same claims.
        Span<byte> mac = stackalloc byte[32];
        Derive(JtiLabel, refreshToken, mac);
        var jti = Base64Url.EncodeToString(mac[..16]);
        return new AccessGrant(record.UserId, record.FamilyId, jti, record.IssuedAt, record.IssuedAt + _options.AccessTokenLifetime, record.Scope);
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

    private void Audit(string kind, string userId, string familyId, DateTimeOffset at)
    {
        LogAudit(kind, userId, familyId);
        OnAudit?.Invoke(new RefreshAuditEvent(kind, userId, familyId, at));
    }

    private DateTimeOffset Now() => DateTimeOffset.FromUnixTimeMilliseconds(_time.GetUtcNow().ToUnixTimeMilliseconds());

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "Security audit: {Kind} for user {UserId}, family {FamilyId}.")]
    private partial void LogAudit(string kind, string userId, string familyId);
}
