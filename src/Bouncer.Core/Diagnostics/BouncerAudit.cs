using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bouncer.Diagnostics;

/// <summary>
/// The engine's audit trail: every access change and security event becomes one <see cref="AuditEvent"/>, written to
/// the <c>Bouncer.Audit</c> log category (event id = the kind), counted on <c>bouncer.audit.events</c>, and handed
/// to <see cref="Recorded"/> observers. The engine calls it; hosts only set <see cref="BouncerCaller.Current"/>.
/// </summary>
public sealed partial class BouncerAudit
{
    /// <summary>The log category of audit events.</summary>
    public const string Category = "Bouncer.Audit";

    private readonly ILogger _logger;
    private readonly BouncerMetrics? _metrics;
    private readonly TimeProvider _time;
    private readonly IAuditStore? _store;

    /// <summary>
    /// An audit trail over <paramref name="loggers"/> (category <see cref="Category"/>), <paramref name="metrics"/>
    /// and <paramref name="store"/> (kept for <c>GET /admin/audit</c> and <c>bouncer audit</c>; null: logs only).
    /// </summary>
    public BouncerAudit(ILoggerFactory? loggers = null, BouncerMetrics? metrics = null, TimeProvider? time = null, IAuditStore? store = null)
    {
        _logger = loggers?.CreateLogger(Category) ?? NullLogger.Instance;
        _metrics = metrics;
        _time = time ?? TimeProvider.System;
        _store = store;
    }

    /// <summary>Where events are kept, or null.</summary>
    public IAuditStore? Store => _store;

    /// <summary>Observers of every event (a store that keeps the trail, a test). Exceptions they throw propagate.</summary>
    public event Action<AuditEvent>? Recorded;

    /// <summary>
    /// Records one event, with the actor and client of <see cref="BouncerCaller.Current"/>: logged, counted, kept in
    /// the store. The access change it describes has already happened, so a store fault is logged, never thrown.
    /// </summary>
    public async ValueTask<AuditEvent> RecordAsync(AuditEventKind kind, string? subject, string? target, string reason, CancellationToken ct = default)
    {
        var caller = BouncerCaller.Current;
        var e = new AuditEvent(kind, _time.GetUtcNow(), caller?.ResolveActor() ?? "system", subject, target, reason, caller?.ClientAddress, caller?.UserAgent);
        Log(_logger, e);
        _metrics?.AuditEvents.Add(1, new KeyValuePair<string, object?>("kind", e.Kind.Name()));
        Recorded?.Invoke(e);
        if (_store is not null)
        {
            try { await _store.AppendAsync(e, ct).ConfigureAwait(false); }
            catch (Exception ex) when (ex is not OperationCanceledException) { LogStoreFailed(_logger, e.Kind.Name(), ex); }
        }
        return e;
    }

    /// <summary>
    /// Deletes events older than <paramref name="retention"/> in batches; returns how many. The engine's housekeeping
    /// calls it, so the trail stays bounded like sessions.
    /// </summary>
    public async ValueTask<long> SweepAsync(TimeSpan retention, CancellationToken ct)
    {
        if (_store is null) return 0;
        long total = 0;
        int deleted;
        var before = _time.GetUtcNow() - retention;
        do total += deleted = await _store.SweepAsync(before, 1000, ct).ConfigureAwait(false);
        while (deleted == 1000);
        return total;
    }

    [LoggerMessage(EventId = 4199, Level = LogLevel.Error, Message = "Security audit: the {Event} event could not be kept in the store.")]
    private static partial void LogStoreFailed(ILogger logger, string @event, Exception ex);

    // One [LoggerMessage] per kind: the event id is fixed by the kind, so a log pipeline filters on it.
    private static void Log(ILogger logger, AuditEvent e)
    {
        var (actor, subject, target, address) = (e.Actor, e.Subject ?? "-", e.Target ?? "-", e.ClientAddress ?? "-");
        switch (e.Kind)
        {
            case AuditEventKind.LoginSucceeded: LogLoginSucceeded(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.LoginFailed: LogLoginFailed(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.RefreshReuseDetected: LogRefreshReuseDetected(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.KeyRotated: LogKeyRotated(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.KeyRetired: LogKeyRetired(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.KeyRevoked: LogKeyRevoked(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.SessionEnded: LogSessionEnded(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.UserSessionsEnded: LogUserSessionsEnded(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.RefreshFamilyRevoked: LogRefreshFamilyRevoked(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.UserCutOff: LogUserCutOff(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.SessionRotated: LogSessionRotated(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.RefreshReplayed: LogRefreshReplayed(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.UserCreated: LogUserCreated(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.RolesChanged: LogRolesChanged(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.UserSuspended: LogUserSuspended(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.UserUnsuspended: LogUserUnsuspended(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.UserUnlocked: LogUserUnlocked(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.UserDeleted: LogUserDeleted(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.PasswordChanged: LogPasswordChanged(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.EveryoneCutOff: LogEveryoneCutOff(logger, actor, subject, target, e.Reason, address); break;
        }
    }

    [LoggerMessage(EventId = 4101, EventName = "login_succeeded", Level = LogLevel.Information, Message = "Security audit: login_succeeded by {Actor} on {Subject} ({Target}): {Reason}, from {ClientAddress}.")]
    private static partial void LogLoginSucceeded(ILogger logger, string? actor, string subject, string target, string reason, string clientAddress);

    [LoggerMessage(EventId = 4102, EventName = "login_failed", Level = LogLevel.Warning, Message = "Security audit: login_failed by {Actor} on {Subject} ({Target}): {Reason}, from {ClientAddress}.")]
    private static partial void LogLoginFailed(ILogger logger, string? actor, string subject, string target, string reason, string clientAddress);

    [LoggerMessage(EventId = 4103, EventName = "refresh_reuse_detected", Level = LogLevel.Warning, Message = "Security audit: refresh_reuse_detected by {Actor} on {Subject} ({Target}): {Reason}, from {ClientAddress}.")]
    private static partial void LogRefreshReuseDetected(ILogger logger, string? actor, string subject, string target, string reason, string clientAddress);

    [LoggerMessage(EventId = 4104, EventName = "key_rotated", Level = LogLevel.Information, Message = "Security audit: key_rotated by {Actor} on {Subject} ({Target}): {Reason}, from {ClientAddress}.")]
    private static partial void LogKeyRotated(ILogger logger, string? actor, string subject, string target, string reason, string clientAddress);

    [LoggerMessage(EventId = 4105, EventName = "key_retired", Level = LogLevel.Information, Message = "Security audit: key_retired by {Actor} on {Subject} ({Target}): {Reason}, from {ClientAddress}.")]
    private static partial void LogKeyRetired(ILogger logger, string? actor, string subject, string target, string reason, string clientAddress);

    [LoggerMessage(EventId = 4106, EventName = "key_revoked", Level = LogLevel.Critical, Message = "Security audit: key_revoked by {Actor} on {Subject} ({Target}): {Reason}, from {ClientAddress}.")]
    private static partial void LogKeyRevoked(ILogger logger, string? actor, string subject, string target, string reason, string clientAddress);

    [LoggerMessage(EventId = 4110, EventName = "session_ended", Level = LogLevel.Information, Message = "Security audit: session_ended by {Actor} on {Subject} ({Target}): {Reason}, from {ClientAddress}.")]
    private static partial void LogSessionEnded(ILogger logger, string? actor, string subject, string target, string reason, string clientAddress);

    [LoggerMessage(EventId = 4111, EventName = "user_sessions_ended", Level = LogLevel.Information, Message = "Security audit: user_sessions_ended by {Actor} on {Subject} ({Target}): {Reason}, from {ClientAddress}.")]
    private static partial void LogUserSessionsEnded(ILogger logger, string? actor, string subject, string target, string reason, string clientAddress);

    [LoggerMessage(EventId = 4112, EventName = "refresh_family_revoked", Level = LogLevel.Information, Message = "Security audit: refresh_family_revoked by {Actor} on {Subject} ({Target}): {Reason}, from {ClientAddress}.")]
    private static partial void LogRefreshFamilyRevoked(ILogger logger, string? actor, string subject, string target, string reason, string clientAddress);

    [LoggerMessage(EventId = 4113, EventName = "user_cut_off", Level = LogLevel.Information, Message = "Security audit: user_cut_off by {Actor} on {Subject} ({Target}): {Reason}, from {ClientAddress}.")]
    private static partial void LogUserCutOff(ILogger logger, string? actor, string subject, string target, string reason, string clientAddress);

    [LoggerMessage(EventId = 4114, EventName = "session_rotated", Level = LogLevel.Information, Message = "Security audit: session_rotated by {Actor} on {Subject} ({Target}): {Reason}, from {ClientAddress}.")]
    private static partial void LogSessionRotated(ILogger logger, string? actor, string subject, string target, string reason, string clientAddress);

    [LoggerMessage(EventId = 4115, EventName = "refresh_replayed", Level = LogLevel.Warning, Message = "Security audit: refresh_replayed by {Actor} on {Subject} ({Target}): {Reason}, from {ClientAddress}.")]
    private static partial void LogRefreshReplayed(ILogger logger, string? actor, string subject, string target, string reason, string clientAddress);

    [LoggerMessage(EventId = 4120, EventName = "user_created", Level = LogLevel.Information, Message = "Security audit: user_created by {Actor} on {Subject} ({Target}): {Reason}, from {ClientAddress}.")]
    private static partial void LogUserCreated(ILogger logger, string? actor, string subject, string target, string reason, string clientAddress);

    [LoggerMessage(EventId = 4121, EventName = "roles_changed", Level = LogLevel.Warning, Message = "Security audit: roles_changed by {Actor} on {Subject} ({Target}): {Reason}, from {ClientAddress}.")]
    private static partial void LogRolesChanged(ILogger logger, string? actor, string subject, string target, string reason, string clientAddress);

    [LoggerMessage(EventId = 4122, EventName = "user_suspended", Level = LogLevel.Warning, Message = "Security audit: user_suspended by {Actor} on {Subject} ({Target}): {Reason}, from {ClientAddress}.")]
    private static partial void LogUserSuspended(ILogger logger, string? actor, string subject, string target, string reason, string clientAddress);

    [LoggerMessage(EventId = 4123, EventName = "user_unsuspended", Level = LogLevel.Warning, Message = "Security audit: user_unsuspended by {Actor} on {Subject} ({Target}): {Reason}, from {ClientAddress}.")]
    private static partial void LogUserUnsuspended(ILogger logger, string? actor, string subject, string target, string reason, string clientAddress);

    [LoggerMessage(EventId = 4124, EventName = "user_unlocked", Level = LogLevel.Information, Message = "Security audit: user_unlocked by {Actor} on {Subject} ({Target}): {Reason}, from {ClientAddress}.")]
    private static partial void LogUserUnlocked(ILogger logger, string? actor, string subject, string target, string reason, string clientAddress);

    [LoggerMessage(EventId = 4125, EventName = "user_deleted", Level = LogLevel.Warning, Message = "Security audit: user_deleted by {Actor} on {Subject} ({Target}): {Reason}, from {ClientAddress}.")]
    private static partial void LogUserDeleted(ILogger logger, string? actor, string subject, string target, string reason, string clientAddress);

    [LoggerMessage(EventId = 4126, EventName = "password_changed", Level = LogLevel.Information, Message = "Security audit: password_changed by {Actor} on {Subject} ({Target}): {Reason}, from {ClientAddress}.")]
    private static partial void LogPasswordChanged(ILogger logger, string? actor, string subject, string target, string reason, string clientAddress);

    [LoggerMessage(EventId = 4127, EventName = "everyone_cut_off", Level = LogLevel.Critical, Message = "Security audit: everyone_cut_off by {Actor} on {Subject} ({Target}): {Reason}, from {ClientAddress}.")]
    private static partial void LogEveryoneCutOff(ILogger logger, string? actor, string subject, string target, string reason, string clientAddress);
}
