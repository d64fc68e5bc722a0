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

    /// <summary>An audit trail over <paramref name="loggers"/> (category <see cref="Category"/>) and <paramref name="metrics"/>.</summary>
    public BouncerAudit(ILoggerFactory? loggers = null, BouncerMetrics? metrics = null, TimeProvider? time = null)
    {
        _logger = loggers?.CreateLogger(Category) ?? NullLogger.Instance;
        _metrics = metrics;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Observers of every event (a store that keeps the trail, a test). Exceptions they throw propagate.</summary>
    public event Action<AuditEvent>? Recorded;

    /// <summary>Records one event, with the actor and client of <see cref="BouncerCaller.Current"/>.</summary>
    public AuditEvent Record(AuditEventKind kind, string? subject, string? target, string reason)
    {
        var caller = BouncerCaller.Current;
        var e = new AuditEvent(kind, _time.GetUtcNow(), caller?.ResolveActor() ?? "system", subject, target, reason, caller?.ClientAddress, caller?.UserAgent);
        Log(_logger, e);
        _metrics?.AuditEvents.Add(1, new KeyValuePair<string, object?>("kind", e.Kind.Name()));
        Recorded?.Invoke(e);
        return e;
    }

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
            case AuditEventKind.SessionEnded: LogSessionEnded(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.UserSessionsEnded: LogUserSessionsEnded(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.RefreshFamilyRevoked: LogRefreshFamilyRevoked(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.UserCutOff: LogUserCutOff(logger, actor, subject, target, e.Reason, address); break;
            case AuditEventKind.SessionRotated: LogSessionRotated(logger, actor, subject, target, e.Reason, address); break;
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
}
