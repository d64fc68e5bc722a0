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
    /// <summary>A signing key was dropped after the last token it signed can have expired (or before it ever signed).</summary>
    KeyRetired = 4105,
    /// <summary>A signing key was revoked as compromised: removed at once, its tokens refused everywhere.</summary>
    KeyRevoked = 4106,
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
    /// <summary>A rotated refresh token was presented again inside the grace window (a retry, a second tab, or a copy).</summary>
    RefreshReplayed = 4115,
    /// <summary>An account was created (registration or an admin).</summary>
    UserCreated = 4120,
    /// <summary>An account's roles were replaced.</summary>
    RolesChanged = 4121,
    /// <summary>An account was suspended: every credential refused, no login.</summary>
    UserSuspended = 4122,
    /// <summary>A suspension was lifted.</summary>
    UserUnsuspended = 4123,
    /// <summary>A lockout after failed logins was cleared by an admin.</summary>
    UserUnlocked = 4124,
    /// <summary>An account was deleted with every credential.</summary>
    UserDeleted = 4125,
    /// <summary>A password was changed.</summary>
    PasswordChanged = 4126,
    /// <summary>Every credential of every user issued before now was cut off (an incident's revoke-all).</summary>
    EveryoneCutOff = 4127,
}
