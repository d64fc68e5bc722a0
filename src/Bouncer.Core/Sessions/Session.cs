namespace Bouncer.Sessions;

/// <summary>A live session as the application sees it.</summary>
/// <param name="Handle">Public handle (base64url SHA-256 of the id): names the session in lists and
/// "revoke this one" without exposing the id.</param>
public sealed record Session(
    string Handle,
    string UserId,
    string? Data,
    string? Client,
    DateTimeOffset CreatedAt,
    DateTimeOffset LastSeenAt,
    DateTimeOffset ExpiresAt,
    DateTimeOffset AbsoluteExpiresAt)
{
    internal static Session From(SessionRecord r) =>
        new(r.Key.ToString(), r.UserId, r.Data, r.Client, r.CreatedAt, r.LastSeenAt, r.ExpiresAt, r.AbsoluteExpiresAt);
}

/// <summary>Bad input to the session engine (oversized or non-JSON data, bad user id).</summary>
public sealed class SessionInputException(string message) : ArgumentException(message);
