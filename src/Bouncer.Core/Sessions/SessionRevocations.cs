using Bouncer.Revocation;

namespace Bouncer.Sessions;

/// <summary>How the engine announces that sessions ended, on the deployment's revocation channel.</summary>
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
