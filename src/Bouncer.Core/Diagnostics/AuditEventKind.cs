namespace Bouncer.Diagnostics;

/// <summary>
/// The kinds of security event Bouncer audits. The numeric value is the log event id (<c>EventId</c>) and never
/// changes; <see cref="AuditEvents.Name"/> gives the stable snake_case name used in logs and metrics.
/// </summary>
public enum AuditEventKind
{
    /// <summary>A password login succeeded.</summary>
    LoginSucceeded = 4101,
    /// <summary>A password login failed (wrong password, unknown name, locked).</summary>
    LoginFailed = 4102,
    /// <summary>A rotated refresh token was presented after the grace window: the family is revoked.</summary>
    RefreshReuseDetected = 4103,
    /// <summary>A signing key was added by rotation.</summary>
    KeyRotated = 4104,
    /// <summary>One session ended (logout, revoke by handle, session cap, rotation).</summary>
    SessionEnded = 4110,
    /// <summary>Every session of a user ended.</summary>
    UserSessionsEnded = 4111,
    /// <summary>A refresh family (one JWT login) was revoked.</summary>
    RefreshFamilyRevoked = 4112,
    /// <summary>Every credential of a user issued before now was cut off (log out everywhere, admin revoke).</summary>
    UserCutOff = 4113,
    /// <summary>A session was given a new id.</summary>
    SessionRotated = 4114,
}
