using System.Text;
using System.Text.Json;

namespace Bouncer.Sessions;

/// <summary>
/// The session engine: ids, hashing, idle and absolute expiry, throttled sliding renewal, rotation,
/// per-user listing and caps, sweeping. Stores only store. Thread-safe.
/// </summary>
/// <example>
/// <code>
/// var sessions = new SessionManager(new SqliteSessionStore("bouncer.db"), TimeProvider.System);
/// var (session, id) = await sessions.CreateAsync("alice", ct);   // id to the cookie
/// var found = await sessions.GetAsync(id, ct);                    // null: unknown, expired or malformed
/// </code>
/// </example>
public sealed class SessionManager
{
    /// <summary>Longest accepted user id, in chars.</summary>
    public const int MaxUserIdLength = 256;

    private const int MaxClientLength = 256;

    private readonly ISessionStore _store;
    private readonly TimeProvider _time;
    private readonly SessionOptions _options;

    public SessionManager(ISessionStore store, TimeProvider? time = null, SessionOptions? options = null)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _time = time ?? TimeProvider.System;
        _options = options ?? new SessionOptions();
        _options.Validate();
    }

    /// <summary>The store behind this engine.</summary>
    public ISessionStore Store => _store;

    /// <summary>The policy in force.</summary>
    public SessionOptions Options => _options;

    /// <summary>Creates a session with no data.</summary>
    public ValueTask<(Session Session, string Id)> CreateAsync(string userId, CancellationToken ct) =>
        CreateAsync(userId, data: null, client: null, ct);

    /// <summary>
    /// Creates a session and returns it with its id: the id goes to the client (cookie) and is never
    /// stored; the store gets its SHA-256. When a per-user cap is set the oldest sessions are evicted.
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
            CreatedAt = now,
            LastSeenAt = now,
            ExpiresAt = Min(now + _options.IdleTimeout, absolute),
            AbsoluteExpiresAt = absolute,
        };
        await _store.CreateAsync(record, ct).ConfigureAwait(false);
        if (_options.MaxSessionsPerUser is int cap) await EvictOverCapAsync(userId, cap, key, now, ct).ConfigureAwait(false);
        return (Session.From(record), id);
    }

    /// <summary>
    /// The live session for <paramref name="id"/>, renewing its idle deadline at most once per
    /// <see cref="SessionOptions.TouchInterval"/>. Null when the id is malformed (no store round trip),
    /// unknown, or expired (an expired record is deleted on the way).
    /// </summary>
    public async ValueTask<Session?> GetAsync(string? id, CancellationToken ct)
    {
        var record = await GetRecordAsync(id, ct).ConfigureAwait(false);
        if (record is null) return null;
        var now = Now();
        if (now - record.LastSeenAt >= _options.TouchInterval)
        {
            var renewed = Renew(record, now);
            if (!await _store.TouchAsync(renewed, ct).ConfigureAwait(false)) return null;
            record = renewed;
        }
        return Session.From(record);
    }

    /// <summary>Renews the idle deadline now, whatever the throttle. False when the session is not live.</summary>
    public async ValueTask<bool> TouchAsync(string? id, CancellationToken ct)
    {
        var record = await GetRecordAsync(id, ct).ConfigureAwait(false);
        return record is not null && await _store.TouchAsync(Renew(record, Now()), ct).ConfigureAwait(false);
    }

    /// <summary>Replaces the session's data. False when the session is not live.</summary>
    /// <exception cref="SessionInputException">The data is not a small JSON object.</exception>
    public async ValueTask<bool> SetDataAsync(string? id, string? data, CancellationToken ct)
    {
        ValidateData(data);
        var record = await GetRecordAsync(id, ct).ConfigureAwait(false);
        return record is not null && await _store.UpdateAsync(Renew(record, Now()) with { Data = data }, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Gives the session a new id, keeping its data and deadlines; the old id is dead the moment this
    /// returns (session-fixation defence at login and privilege change). Null when the session is not
    /// live or a concurrent rotation won.
    /// </summary>
    public async ValueTask<(Session Session, string Id)?> RotateAsync(string? id, CancellationToken ct)
    {
        var record = await GetRecordAsync(id, ct).ConfigureAwait(false);
        if (record is null) return null;
        var (newId, newKey) = SessionId.New();
        var next = Renew(record, Now()) with { Key = newKey };
        if (!await _store.RotateAsync(record.Key, next, ct).ConfigureAwait(false)) return null;
        return (Session.From(next), newId);
    }

    /// <summary>Deletes the session (logout). False when it was not there or the id is malformed.</summary>
    public ValueTask<bool> DeleteAsync(string? id, CancellationToken ct) =>
        SessionId.TryGetKey(id, out var key) ? _store.DeleteAsync(key, ct) : ValueTask.FromResult(false);

    /// <summary>The user's live sessions, newest first.</summary>
    public async ValueTask<IReadOnlyList<Session>> ListUserAsync(string userId, CancellationToken ct)
    {
        ValidateUserId(userId);
        var now = Now();
        var records = await _store.ListUserAsync(userId, ct).ConfigureAwait(false);
        return records.Where(r => r.UserId == userId && IsLive(r, now))
            .OrderByDescending(r => r.CreatedAt)
            .Select(Session.From)
            .ToList();
    }

    /// <summary>
    /// Deletes one of the user's sessions, named by its public handle. False when the handle is
    /// malformed, unknown, or belongs to another user (a user cannot revoke someone else's session).
    /// </summary>
    public async ValueTask<bool> DeleteUserSessionAsync(string userId, string handle, CancellationToken ct)
    {
        ValidateUserId(userId);
        if (!SessionKey.TryParseHandle(handle, out var key)) return false;
        var record = await _store.GetAsync(key, ct).ConfigureAwait(false);
        return record is not null && record.UserId == userId && await _store.DeleteAsync(key, ct).ConfigureAwait(false);
    }

    /// <summary>"Log out everywhere": deletes every session of the user and returns how many.</summary>
    public ValueTask<int> DeleteUserAsync(string userId, CancellationToken ct)
    {
        ValidateUserId(userId);
        return _store.DeleteUserAsync(userId, ct);
    }

    /// <summary>
    /// Deletes every expired session in batches of <see cref="SessionOptions.SweepBatchSize"/>, reporting
    /// the running total after each batch. Returns the total deleted.
    /// </summary>
    public async ValueTask<long> SweepAsync(IProgress<long>? progress, CancellationToken ct)
    {
        long total = 0;
        var batch = _options.SweepBatchSize;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var deleted = await _store.SweepAsync(Now(), batch, ct).ConfigureAwait(false);
            total += deleted;
            progress?.Report(total);
            if (deleted < batch) return total;
        }
    }

    private async ValueTask<SessionRecord?> GetRecordAsync(string? id, CancellationToken ct)
    {
        // A malformed id cannot name a session: answer at once, without a store round trip.
        if (!SessionId.TryGetKey(id, out var key)) return null;
        var record = await _store.GetAsync(key, ct).ConfigureAwait(false);
        if (record is null) return null;
        if (IsLive(record, Now())) return record;
        await _store.DeleteAsync(key, ct).ConfigureAwait(false);
        return null;
    }

    // Trims after the create, never before: of logins racing on any number of instances, the one that lists last
    // sees every session created before it and trims the rest. Everyone orders the same way (newest first, ties by
    // key), so no two trims over-evict. A trim never deletes the session its own login just created, even when that
    // one sorts past the cap (an instance whose clock runs behind, a tie lost by key): the login must not hand out a
    // dead id. The user may then hold one more than the cap until the next login trims it.
    private async ValueTask EvictOverCapAsync(string userId, int keep, SessionKey own, DateTimeOffset now, CancellationToken ct)
    {
        var live = (await _store.ListUserAsync(userId, ct).ConfigureAwait(false))
            .Where(r => IsLive(r, now))
            .OrderByDescending(r => r.CreatedAt)
            .ThenBy(r => r.Key.ToString(), StringComparer.Ordinal)
            .ToList();
        for (var i = keep; i < live.Count; i++)
            if (!live[i].Key.Equals(own)) await _store.DeleteAsync(live[i].Key, ct).ConfigureAwait(false);
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
