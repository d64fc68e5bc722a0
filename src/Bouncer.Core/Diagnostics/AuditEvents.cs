namespace Bouncer.Diagnostics;

/// <summary>Stable names of <see cref="AuditEventKind"/>.</summary>
public static class AuditEvents
{
    /// <summary>The snake_case name of an event kind, e.g. <c>session_ended</c>.</summary>
    public static string Name(this AuditEventKind kind) => kind switch
    {
        AuditEventKind.LoginSucceeded => "login_succeeded",
        AuditEventKind.LoginFailed => "login_failed",
        AuditEventKind.RefreshReuseDetected => "refresh_reuse_detected",
        AuditEventKind.KeyRotated => "key_rotated",
        AuditEventKind.KeyRetired => "key_retired",
        AuditEventKind.KeyRevoked => "key_revoked",
        AuditEventKind.SessionEnded => "session_ended",
        AuditEventKind.UserSessionsEnded => "user_sessions_ended",
        AuditEventKind.RefreshFamilyRevoked => "refresh_family_revoked",
        AuditEventKind.UserCutOff => "user_cut_off",
        AuditEventKind.SessionRotated => "session_rotated",
        AuditEventKind.RefreshReplayed => "refresh_replayed",
        AuditEventKind.UserCreated => "user_created",
        AuditEventKind.RolesChanged => "roles_changed",
        AuditEventKind.UserSuspended => "user_suspended",
        AuditEventKind.UserUnsuspended => "user_unsuspended",
        AuditEventKind.UserUnlocked => "user_unlocked",
        AuditEventKind.UserDeleted => "user_deleted",
        AuditEventKind.PasswordChanged => "password_changed",
        AuditEventKind.EveryoneCutOff => "everyone_cut_off",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
