using System.Text;
using System.Text.Json;
using Bouncer.Diagnostics;
using Bouncer.Revocation;

namespace Bouncer.Sessions;

/// <summary>
/// The session engine: ids, hashing, idle and absolute expiry, throttled sliding renewal, rotation, per-user listing
/// and caps, sweeping; and every change that ends a session, done whole in one call: stored, evicted from this
/// instance's near cache, announced on the revocation channel (so other instances' caches evict and hybrid tokens
/// minted from the session die with it) and audited. Stores only store; the cache only caches. Thread-safe.
/// </summary>
/// <example>
/// <code>
/// var sessions = provider.GetRequiredService&lt;SessionManager&gt;();   // services.AddBouncerCore().UseSqlite("bouncer.db")
/// var (session, id) = await sessions.CreateAsync("alice", ct);       // id to the cookie
/// var found = await sessions.GetAsync(id, ct);                        // null: unknown, expired or malformed
/// </code>
/// </example>
public sealed class SessionManager
{
    /// <summary>Longest accepted user id, in chars.</summary>
    public const int MaxUserIdLength = 256;

    private const int MaxClientLength = 256;

    private readonly ISessionStore _store;
    private readonly IRevocationChannel _channel;
    private readonly TimeProvider _time;
    private readonly SessionOptions _options;
    private readonly SessionCache? _cache;
    private readonly BouncerAudit? _audit;
    private readonly BouncerMetrics? _metrics;
    private readonly TimeSpan _announceFor;
    private readonly RevocationListener? _revocations;

    /// <param name="store">Where sessions persist.</param>
    /// <param name="channel">The deployment's revocation channel: every session end is announced on it.</param>
    /// <param name="time">The clock; null: the system clock.</param>
    /// <param name="options">The policy; null: the defaults. Validated here.</param>
    /// <param name="cache">This instance's near cache, or null for none (a CLI, a server with the cache off).</param>
    /// <param name="audit">The audit trail, or null.</param>
    /// <param name="metrics">The instruments, or null.</param>
    /// <param name="revocations">This instance's revocation state: a session created before a global cut-off is ended,
    /// and a session announced as ended is refused even before its delete reaches the store.</param>
    public SessionManager(ISessionStore store, IRevocationChannel channel, TimeProvider? time = null, SessionOptions? options = null,
        SessionCache? cache = null, BouncerAudit? audit = null, BouncerMetrics? metrics = null, RevocationListener? revocations = null)
    {
        _revocations = revocations;
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _channel = channel ?? throw new ArgumentNullException(nameof(channel));
        _time = time ?? TimeProvider.System;
        _options = options ?? new SessionOptions();
        _options.Validate();
        _cache = cache;
        _audit = audit;
        _metrics = metrics;
        // Other caches hold an entry at most their TimeToLive, and hybrid tokens of a session live minutes: the
        // announcement outlives both.
        _announceFor = cache is not null && cache.TimeToLive > SessionRevocations.DefaultAnnouncement ? cache.TimeToLive : SessionRevocations.DefaultAnnouncement;
    }

    /// <summary>The policy in force.</summary>
    public SessionOptions Options => _options;

    /// <summary>This instance's near cache, or null.</summary>
    public SessionCache? Cache => _cache;

    /// <summary>Creates a session with no data.</summary>
    public ValueTask<(Session Session, string Id)> CreateAsync(string userId, CancellationToken ct) =>
        CreateAsync(userId, data: null, client: null, ct);

    /// <summary>
    /// Creates a session and returns it with its id: the id goes to the client (cookie) and is never
    /// stored; the store gets its SHA-256. When a per-user cap is set the oldest sessions are ended.
    /// </summary>
    /// <exception cref="SessionInputException">Bad user id, or data that is not a small JSON object.</exception>
    public async ValueTask<(Session Session, string Id)> CreateAsync(string userId, string? data, string? client, CancellationToken ct)
    {
        ValidateUserId(userId);
        ValidateData(data);
        var now = Now();
        var (id, key) = SessionId.New();
        var absolute = now + _options.AbsoluteTimeout;
        var record = new SessionRecord
        {
            Key = key,
            UserId = userId,
            Data = data,
            Client = Truncate(client),
            CreatedAt = StartTime(userId, now),
            LastSeenAt = now,
            ExpiresAt = Min(now + _options.IdleTimeout, absolute),
            AbsoluteExpiresAt = absolute,
        };
        var evictionsBefore = _cache?.Evictions ?? 0;
        BouncerTrace.StoreRoundTrip();
        await _store.CreateAsync(record, ct).ConfigureAwait(false);
        // Add, not Put: a log-out-everywhere that landed during the write must not leave this record cached.
        _cache?.Add(record, evictionsBefore);
        if (_options.MaxSessionsPerUser is int cap) await EvictOverCapAsync(userId, cap, key, now, ct).ConfigureAwait(false);
        return (Session.From(record), id);
    }

    /// <summary>
    /// The live session for <paramref name="id"/>, renewing its idle deadline at most once per
    /// <see cref="SessionOptions.TouchInterval"/>. Null when the id is malformed (no store round trip),
    /// unknown, or expired (an expired record is deleted on the way).
    /// </summary>
    public ValueTask<Session?> GetAsync(string? id, CancellationToken ct) =>
        BouncerActivities.IsTraced ? GetTracedAsync(id, ct) : GetCoreAsync(id, ct);

    // The span says whether a live session was found, never which: no id, no user.
    private async ValueTask<Session?> GetTracedAsync(string? id, CancellationToken ct)
    {
        using var activity = BouncerActivities.Start(BouncerActivities.SessionLookup);
        try
        {
            var session = await GetCoreAsync(id, ct).ConfigureAwait(false);
            BouncerActivities.SetOutcome(activity, session is null ? "not_found" : "found");
            return session;
        }
        catch (Exception ex) when (BouncerActivities.Failed(activity, ex))
        {
            throw;
        }
    }

    private async ValueTask<Session?> GetCoreAsync(string? id, CancellationToken ct)
    {
        var record = await GetRecordAsync(id, ct).ConfigureAwait(false);
        if (record is null) return null;
        var now = Now();
        if (now - record.LastSeenAt >= _options.TouchInterval)
        {
            var renewed = Renew(record, now);
            if (!await TouchStoredAsync(renewed, ct).ConfigureAwait(false)) return null;
            record = renewed;
        }
        return Session.From(record);
    }

    /// <summary>Renews the idle deadline now, whatever the throttle. False when the session is not live.</summary>
    public async ValueTask<bool> TouchAsync(string? id, CancellationToken ct)
    {
        var record = await GetRecordAsync(id, ct).ConfigureAwait(false);
        return record is not null && await TouchStoredAsync(Renew(record, Now()), ct).ConfigureAwait(false);
    }

    /// <summary>Replaces the session's data. False when the session is not live.</summary>
    /// <exception cref="SessionInputException">The data is not a small JSON object.</exception>
    public async ValueTask<bool> SetDataAsync(string? id, string? data, CancellationToken ct)
    {
        ValidateData(data);
        var record = await GetRecordAsync(id, ct).ConfigureAwait(false);
        if (record is null) return false;
        var next = Renew(record, Now()) with { Data = data };
        var evictionsBefore = _cache?.Evictions ?? 0;
        BouncerTrace.StoreRoundTrip();
        var updated = await _store.UpdateAsync(next, ct).ConfigureAwait(false);
        if (updated) _cache?.Add(next, evictionsBefore); else _cache?.Evict(next.Key);
        return updated;
    }

    /// <summary>
    /// Gives the session a new id, keeping its data and deadlines; the old id is dead the moment this returns, on
    /// this instance, and on every other once the announcement arrives (session-fixation defence at login and
    /// privilege change). Null when the session is not live or a concurrent rotation won.
    /// </summary>
    public async ValueTask<(Session Session, string Id)?> RotateAsync(string? id, CancellationToken ct)
    {
        var record = await GetRecordAsync(id, ct).ConfigureAwait(false);
        if (record is null) return null;
        var (newId, newKey) = SessionId.New();
        var next = Renew(record, Now()) with { Key = newKey };
        BouncerTrace.StoreRoundTrip();
        var rotated = await _store.RotateAsync(record.Key, next, ct).ConfigureAwait(false);
        _cache?.Evict(record.Key);
        if (!rotated) return null;
        // Read after this instance's own eviction above: only a later one (a push) keeps the successor out.
        _cache?.Add(next, _cache.Evictions);
        await AnnounceAsync(RevocationKind.Session, record.Key.ToString(), "rotated", ct).ConfigureAwait(false);
        if (_audit is not null) await _audit.RecordAsync(AuditEventKind.SessionRotated, record.UserId, record.Key.ToString(), "rotated", ct).ConfigureAwait(false);
        return (Session.From(next), newId);
    }

    /// <summary>Ends the session the id names (logout). False when it was not there or the id is malformed.</summary>
    public async ValueTask<bool> DeleteAsync(string? id, CancellationToken ct)
    {
        if (!SessionId.TryGetKey(id, out var key)) return false;
        return await EndAsync(key, userId: null, "logout", ct).ConfigureAwait(false);
    }

    /// <summary>The user's live sessions, newest first.</summary>
    public async ValueTask<IReadOnlyList<Session>> ListUserAsync(string userId, CancellationToken ct)
    {
        ValidateUserId(userId);
        var now = Now();
        BouncerTrace.StoreRoundTrip();
        var records = await _store.ListUserAsync(userId, ct).ConfigureAwait(false);
        return records.Where(r => r.UserId == userId && IsLive(r, now))
            .OrderByDescending(r => r.CreatedAt)
            .Select(Session.From)
            .ToList();
    }

    /// <summary>
    /// Ends one of the user's sessions, named by its public handle (logout). False when the handle is malformed,
    /// unknown, or belongs to another user (a user cannot revoke someone else's session).
    /// </summary>
    public ValueTask<bool> DeleteUserSessionAsync(string userId, string handle, CancellationToken ct) =>
        EndSessionAsync(userId, handle, "logout", ct);

    /// <summary>
    /// Ends one of the user's sessions by its public handle, for <paramref name="reason"/> (<c>logout</c>,
    /// <c>admin_revoke</c>, <c>cli_revoke</c>): deleted, evicted, announced, audited. False when the handle is
    /// malformed, unknown, or belongs to another user.
    /// </summary>
    public async ValueTask<bool> EndSessionAsync(string userId, string handle, string reason, CancellationToken ct)
    {
        ValidateUserId(userId);
        if (!SessionKey.TryParseHandle(handle, out var key)) return false;
        var record = await ReadAsync(key, ct).ConfigureAwait(false);
        return record is not null && record.UserId == userId && await EndAsync(key, userId, reason, ct).ConfigureAwait(false);
    }

    /// <summary>"Log out everywhere": ends every session of the user and returns how many.</summary>
    public ValueTask<int> DeleteUserAsync(string userId, CancellationToken ct) => EndUserSessionsAsync(userId, "logout_all", ct);

    /// <summary>
    /// Ends every session of the user for <paramref name="reason"/>: deleted, evicted here, announced (the user
    /// cut-off, then each session by handle) and audited. Returns how many were deleted.
    /// </summary>
    public async ValueTask<int> EndUserSessionsAsync(string userId, string reason, CancellationToken ct)
    {
        ValidateUserId(userId);
        BouncerTrace.StoreRoundTrip();
        // The sign-out first, before the store: every instance refuses the user's earlier sessions, refresh families and
        // tokens on this one entry (IsAnnouncedEnded, RefreshTokenService), so the refusal elsewhere waits for no store
        // round trip. A session refused that way is deleted by the instance that refuses it, so a failed delete below
        // does not bring it back once the entry expires.
        await SessionRevocations.PublishAsync(_channel, RevocationKind.SignOut, userId, _time, _announceFor, ct).ConfigureAwait(false);
        // Past the announcement the rest is not cancelled with the request (a client that hangs up).
        ct = CancellationToken.None;
        var sessions = await _store.ListUserAsync(userId, ct).ConfigureAwait(false);
        BouncerTrace.StoreRoundTrip();
        var deleted = await _store.DeleteUserAsync(userId, ct).ConfigureAwait(false);
        _cache?.EvictUser(userId);
        // Each session by handle too: a hybrid token minted from one earlier in the sign-out's second passes its token
        // cut-off. Then a plain user cut-off, which instances of a version before SignOut apply to tokens and cached sessions.
        await SessionRevocations.PublishSessionsAsync(_channel, sessions, _time, _announceFor, ct).ConfigureAwait(false);
        await SessionRevocations.PublishAsync(_channel, RevocationKind.User, userId, _time, _announceFor, ct).ConfigureAwait(false);
        _metrics?.Revocations.Add(1, new KeyValuePair<string, object?>("kind", reason));
        if (_audit is not null) await _audit.RecordAsync(AuditEventKind.UserSessionsEnded, userId, deleted.ToString(System.Globalization.CultureInfo.InvariantCulture), reason, ct).ConfigureAwait(false);
        return deleted;
    }

    /// <summary>
    /// Deletes every expired session in batches of <see cref="SessionOptions.SweepBatchSize"/>, reporting
    /// the running total after each batch. Returns the total deleted.
    /// </summary>
    /// <remarks>Cancellation is honoured between batches: a batch the store has started is finished and
    /// reported first, so the last reported total is exactly what was deleted when
    /// <see cref="OperationCanceledException"/> comes.</remarks>
    public async ValueTask<long> SweepAsync(IProgress<long>? progress, CancellationToken ct)
    {
        long total = 0;
        var batch = _options.SweepBatchSize;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            BouncerTrace.StoreRoundTrip();
            // Not cancelled mid-batch: a store may have deleted rows before it saw the token, and the total
            // reported must stay the work done.
            var deleted = await _store.SweepAsync(Now(), batch, CancellationToken.None).ConfigureAwait(false);
            total += deleted;
            progress?.Report(total);
            if (deleted < batch) return total;
        }
    }

    private async ValueTask<SessionRecord?> GetRecordAsync(string? id, CancellationToken ct)
    {
        // A malformed id cannot name a session: answer at once, without a store round trip.
        if (!SessionId.TryGetKey(id, out var key)) return null;
        var record = await ReadAsync(key, ct).ConfigureAwait(false);
        if (record is null) return null;
        // Announced as ended, by its user's sign-out everywhere (announced before the delete) or by handle: refused here
        // at once, even while the delete is still on its way to the store or this instance's cache; and deleted here, so
        // the refusal outlives the announcement should the announcing instance's delete fail.
        if (IsAnnouncedEnded(key, record))
        {
            _cache?.Drop(key);
            // Not awaited: the refusal stands whatever the store says, so it neither waits for the delete nor turns into
            // a 503 in an outage; a later refusal of the same session tries again.
            _ = DeleteRefusedAsync(key);
            return null;
        }
        // Revoke-everyone: a session that started before the cut-off (whole seconds, as for tokens) is over.
        if (_revocations is not null && record.CreatedAt.ToUnixTimeSeconds() < _revocations.Set.EveryoneNotBefore)
        {
            await EndAsync(key, record.UserId, "revoked_everyone", ct).ConfigureAwait(false);
            return null;
        }
        if (IsLive(record, Now())) return record;
        await EndAsync(key, record.UserId, "expired", ct).ConfigureAwait(false);
        return null;
    }

    private async Task DeleteRefusedAsync(SessionKey key)
    {
        try { await _store.DeleteAsync(key, CancellationToken.None).ConfigureAwait(false); }
        catch (Exception ex) when (StoreFaults.IsUnavailable(ex)) { }
    }

    private bool IsAnnouncedEnded(in SessionKey key, SessionRecord record)
    {
        if (_revocations is null) return false;
        if (record.CreatedAt.ToUnixTimeMilliseconds() < _revocations.Set.SessionsNotBefore(record.UserId)) return true;
        Span<char> handle = stackalloc char[SessionKey.HandleLength];
        key.FormatHandle(handle);
        return _revocations.Set.IsSessionRevoked(handle);
    }

    // Now, or a cut-off this instance knows of when that is later: after a revoke-everyone that starts at the next whole
    // second, or a sign-out everywhere stamped by an instance whose clock runs ahead, a new session is not refused by it.
    private DateTimeOffset StartTime(string userId, DateTimeOffset now)
    {
        if (_revocations is not { } r) return now;
        var ms = Math.Max(now.ToUnixTimeMilliseconds(), r.Set.SessionsNotBefore(userId));
        if (r.Set.EveryoneNotBefore != long.MinValue) ms = Math.Max(ms, r.Set.EveryoneNotBefore * 1000);
        return ms == now.ToUnixTimeMilliseconds() ? now : DateTimeOffset.FromUnixTimeMilliseconds(ms);
    }

    // The near cache when it can vouch for the record, else the store (and the cache is filled).
    private ValueTask<SessionRecord?> ReadAsync(SessionKey key, CancellationToken ct)
    {
        if (_cache is not null && _cache.TryGet(key, out var cached)) return ValueTask.FromResult<SessionRecord?>(cached);
        return LoadAsync(key, ct);
    }

    private async ValueTask<SessionRecord?> LoadAsync(SessionKey key, CancellationToken ct)
    {
        var evictionsBefore = _cache?.Evictions ?? 0;
        BouncerTrace.StoreLookup();
        _metrics?.StoreLookups.Add(1);
        var record = await _store.GetAsync(key, ct).ConfigureAwait(false);
        if (_cache is null) return record;
        // An unknown id ended nothing: a housekeeping drop, so random cookies cannot stop concurrent loads caching.
        if (record is null) _cache.Drop(key);
        else _cache.Add(record, evictionsBefore);
        return record;
    }

    private async ValueTask<bool> TouchStoredAsync(SessionRecord renewed, CancellationToken ct)
    {
        BouncerTrace.StoreRoundTrip();
        var touched = await _store.TouchAsync(renewed, ct).ConfigureAwait(false);
        // The store kept its own data and client, which this copy may predate: reload on next use rather than cache
        // this copy. A housekeeping drop when it worked (a touch ends nothing); a real eviction when the record was gone.
        if (touched) _cache?.Drop(renewed.Key); else _cache?.Evict(renewed.Key);
        return touched;
    }

    // Every single-session end goes through here: the store, this cache, the channel, the audit trail.
    private async ValueTask<bool> EndAsync(SessionKey key, string? userId, string reason, CancellationToken ct)
    {
        BouncerTrace.StoreRoundTrip();
        var deleted = await _store.DeleteAsync(key, ct).ConfigureAwait(false);
        _cache?.Evict(key);
        if (!deleted) return false;
        await AnnounceAsync(RevocationKind.Session, key.ToString(), reason, ct).ConfigureAwait(false);
        if (_audit is not null) await _audit.RecordAsync(AuditEventKind.SessionEnded, userId, key.ToString(), reason, ct).ConfigureAwait(false);
        return true;
    }

    private async ValueTask AnnounceAsync(RevocationKind kind, string subject, string reason, CancellationToken ct)
    {
        await SessionRevocations.PublishAsync(_channel, kind, subject, _time, _announceFor, ct).ConfigureAwait(false);
        _metrics?.Revocations.Add(1, new KeyValuePair<string, object?>("kind", reason));
    }

    // Trims after the create, never before: of logins racing on any number of instances, the one that lists last
    // sees every session created before it and trims the rest. Everyone orders the same way (newest first, ties by
    // key), so no two trims over-evict. A trim never deletes the session its own login just created, even when that
    // one sorts past the cap (an instance whose clock runs behind, a tie lost by key): the login must not hand out a
    // dead id. The user may then hold one more than the cap until the next login trims it.
    private async ValueTask EvictOverCapAsync(string userId, int keep, SessionKey own, DateTimeOffset now, CancellationToken ct)
    {
        BouncerTrace.StoreRoundTrip();
        var live = (await _store.ListUserAsync(userId, ct).ConfigureAwait(false))
            .Where(r => IsLive(r, now))
            .OrderByDescending(r => r.CreatedAt)
            .ThenBy(r => r.Key.ToString(), StringComparer.Ordinal)
            .ToList();
        for (var i = keep; i < live.Count; i++)
            if (!live[i].Key.Equals(own)) await EndAsync(live[i].Key, userId, "session_cap", ct).ConfigureAwait(false);
    }

    private SessionRecord Renew(SessionRecord record, DateTimeOffset now) => record with
    {
        LastSeenAt = now,
        ExpiresAt = Min(now + _options.IdleTimeout, record.AbsoluteExpiresAt),
    };

    private static bool IsLive(SessionRecord record, DateTimeOffset now) =>
        now < record.ExpiresAt && now < record.AbsoluteExpiresAt;

    // Whole milliseconds: every store round-trips them exactly.
    private DateTimeOffset Now()
    {
        var ms = _time.GetUtcNow().ToUnixTimeMilliseconds();
        return DateTimeOffset.FromUnixTimeMilliseconds(ms);
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static string? Truncate(string? client) =>
        client is { Length: > MaxClientLength } ? client[..MaxClientLength] : client;

    private static void ValidateUserId(string userId)
    {
        if (string.IsNullOrEmpty(userId) || userId.Length > MaxUserIdLength)
            throw new SessionInputException($"User id must be 1 to {MaxUserIdLength} characters.");
    }

    private void ValidateData(string? data)
    {
        if (data is null) return;
        if (Encoding.UTF8.GetByteCount(data) > _options.MaxDataBytes)
            throw new SessionInputException($"Session data exceeds {_options.MaxDataBytes} bytes.");
        try
        {
            using var doc = JsonDocument.Parse(data, new JsonDocumentOptions { MaxDepth = 16 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new SessionInputException("Session data must be a JSON object.");
        }
        catch (JsonException)
        {
            throw new SessionInputException("Session data is not valid JSON.");
        }
    }
}
