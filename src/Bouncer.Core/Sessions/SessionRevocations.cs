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
    /// "Log out everywhere": the user's sign-out (every session and token of the user from before now is refused on
    /// every instance from this entry alone), then each of <paramref name="sessions"/> by handle. The sign-out's token
    /// cut-off has whole-second precision (a token's <c>iat</c>), so a hybrid token minted from one of these sessions
    /// earlier in the same second passes it; its <c>sid</c> does not.
    /// </summary>
    public static async ValueTask PublishUserAsync(IRevocationChannel channel, string userId, IReadOnlyList<SessionRecord> sessions, TimeProvider time, TimeSpan announceFor, CancellationToken ct)
    {
        await PublishAsync(channel, RevocationKind.SignOut, userId, time, announceFor, ct).ConfigureAwait(false);
        await PublishSessionsAsync(channel, sessions, time, announceFor, ct).ConfigureAwait(false);
    }

    /// <summary>Publishes the end of each of <paramref name="sessions"/> by handle.</summary>
    public static async ValueTask PublishSessionsAsync(IRevocationChannel channel, IReadOnlyList<SessionRecord> sessions, TimeProvider time, TimeSpan announceFor, CancellationToken ct)
    {
        foreach (var session in sessions)
            await PublishAsync(channel, RevocationKind.Session, session.Key.ToString(), time, announceFor, ct).ConfigureAwait(false);
    }

    /// <summary>Publishes one session end: a session handle, or a user's sign-out for "log out everywhere".</summary>
    public static async ValueTask PublishAsync(IRevocationChannel channel, RevocationKind kind, string subject, TimeProvider time, TimeSpan announceFor, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await channel.PublishAsync(new RevocationRecord(kind, subject, now, now + announceFor), ct).ConfigureAwait(false);
    }
}
