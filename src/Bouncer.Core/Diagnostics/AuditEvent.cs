namespace Bouncer.Diagnostics;

/// <summary>
/// One security event, as written to the audit log. Never holds a token, a session id, a password or a key: sessions
/// are named by their public handle, refresh families by their id.
/// </summary>
/// <param name="Kind">What happened.</param>
/// <param name="At">When, by the engine's clock.</param>
/// <param name="Actor">Who did it: a username, <c>cli</c>, <c>system</c>, or null when unknown.</param>
/// <param name="Subject">The user it happened to, or null (a failed login of an unknown name).</param>
/// <param name="Target">The session handle, family id or key id concerned, or null.</param>
/// <param name="Reason">Why: a reason such as <c>logout</c>, <c>admin_revoke</c>, or a failure code.</param>
/// <param name="ClientAddress">The caller's address, when the event came from a request.</param>
/// <param name="UserAgent">The caller's user agent (truncated), when the event came from a request.</param>
public sealed record AuditEvent(
    AuditEventKind Kind,
    DateTimeOffset At,
    string? Actor,
    string? Subject,
    string? Target,
    string Reason,
    string? ClientAddress,
    string? UserAgent);
