using Bouncer.Revocation;

namespace Bouncer.Sessions;

/// <summary>
/// A store that announces every change ending a session (delete, rotate, log out everywhere) on the
/// revocation channel, for writers with no near cache of their own (the CLI, a server with the cache
/// off): other instances' caches evict on the push, and hybrid tokens minted from the session (whose
/// <c>sid</c> is the session handle) die with it. <see cref="NearCacheSessionStore"/> does the same.
/// </summary>
public sealed class PublishingSessionStore(ISessionStore inner, IRevocationChannel channel, TimeProvider? time = null, TimeSpan? announceFor = null) : ISessionStore
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly TimeSpan _announceFor = announceFor ?? SessionRevocations.DefaultAnnouncement;

    /// <inheritdoc/>
    public ValueTask<SessionRecord?> GetAsync(SessionKey key, CancellationToken ct) => inner.GetAsync(key, ct);

    /// <inheritdoc/>
    public ValueTask CreateAsync(SessionRecord record, CancellationToken ct) => inner.CreateAsync(record, ct);

    /// <inheritdoc/>
    public ValueTask<bool> UpdateAsync(SessionRecord record, CancellationToken ct) => inner.UpdateAsync(record, ct);

    /// <inheritdoc/>
    public ValueTask<bool> TouchAsync(SessionRecord record, CancellationToken ct) => inner.TouchAsync(record, ct);

    /// <inheritdoc/>
    public async ValueTask<bool> RotateAsync(SessionKey oldKey, SessionRecord next, CancellationToken ct)
    {
        var rotated = await inner.RotateAsync(oldKey, next, ct).ConfigureAwait(false);
        if (rotated) await SessionRevocations.PublishAsync(channel, RevocationKind.Session, oldKey.ToString(), _time, _announceFor, ct).ConfigureAwait(false);
        return rotated;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> DeleteAsync(SessionKey key, CancellationToken ct)
    {
        var deleted = await inner.DeleteAsync(key, ct).ConfigureAwait(false);
        if (deleted) await SessionRevocations.PublishAsync(channel, RevocationKind.Session, key.ToString(), _time, _announceFor, ct).ConfigureAwait(false);
        return deleted;
    }

    /// <inheritdoc/>
    public async ValueTask<int> DeleteUserAsync(string userId, CancellationToken ct)
    {
        var sessions = await inner.ListUserAsync(userId, ct).ConfigureAwait(false);
        var deleted = await inner.DeleteUserAsync(userId, ct).ConfigureAwait(false);
        await SessionRevocations.PublishUserAsync(channel, userId, sessions, _time, _announceFor, ct).ConfigureAwait(false);
        return deleted;
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<SessionRecord>> ListUserAsync(string userId, CancellationToken ct) => inner.ListUserAsync(userId, ct);

    /// <inheritdoc/>
    public ValueTask<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken ct) => inner.SweepAsync(now, batchSize, ct);
}

/// <summary>How session ends are announced on the revocation channel.</summary>
public static class SessionRevocations
{
    /// <summary>
    /// How long an announcement is kept: past the longest a hybrid token minted from a session can be accepted (the
    /// exchange lifetime allows at most 15 minutes, and a verifier's clock skew at most 5 more) and past the near
    /// cache's default 5-minute hold. A writer such as the CLI does not know the server's settings, so this covers
    /// the largest they allow.
    /// </summary>
    public static readonly TimeSpan DefaultAnnouncement = TimeSpan.FromMinutes(15) + TimeSpan.FromMinutes(5);

    /// <summary>
    /// "Log out everywhere": the user cut-off, then each of the user's sessions by handle. The cut-off has whole-second
    /// precision (a token's <c>iat</c>), so a hybrid token minted from one of these sessions earlier in the same second
    /// passes it; its <c>sid</c> does not. The cut-off covers sessions created after <paramref name="sessions"/> was read.
    /// </summary>
    public static async ValueTask PublishUserAsync(IRevocationChannel channel, string userId, IReadOnlyList<SessionRecord> sessions, TimeProvider time, TimeSpan announceFor, CancellationToken ct)
    {
        // The cut-off first: if a later publish fails, every token issued before this second is already refused.
        await PublishAsync(channel, RevocationKind.User, userId, time, announceFor, ct).ConfigureAwait(false);
        foreach (var session in sessions)
            await PublishAsync(channel, RevocationKind.Session, session.Key.ToString(), time, announceFor, ct).ConfigureAwait(false);
    }

    /// <summary>Publishes one session end: a session handle, or a user for "log out everywhere".</summary>
    public static async ValueTask PublishAsync(IRevocationChannel channel, RevocationKind kind, string subject, TimeProvider time, TimeSpan announceFor, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await channel.PublishAsync(new RevocationRecord(kind, subject, now, now + announceFor), ct).ConfigureAwait(false);
    }
}
