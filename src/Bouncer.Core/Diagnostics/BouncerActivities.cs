using System.Diagnostics;

namespace Bouncer.Diagnostics;

/// <summary>
/// Bouncer's spans on the <see cref="ActivitySource"/> named <see cref="SourceName"/>: login (the password check),
/// refresh, access-token verify, session lookup and revocation apply. Subscribe with OpenTelemetry
/// (<c>.WithTracing(t =&gt; t.AddSource("Bouncer"))</c>) or any <see cref="ActivityListener"/>. Tags carry outcomes and
/// failure codes only: never a token, session id, user name or password. Without a listener no span is created and
/// nothing is allocated.
/// </summary>
public static class BouncerActivities
{
    /// <summary>The activity source's name, <c>Bouncer</c> (the same as the meter's).</summary>
    public const string SourceName = "Bouncer";

    /// <summary>Span of a password check (<c>UserService.AuthenticateAsync</c>).</summary>
    public const string Login = "bouncer.login";

    /// <summary>Span of a refresh-token exchange.</summary>
    public const string Refresh = "bouncer.refresh";

    /// <summary>Span of an access-token verification (signature, claims, revocation verdict).</summary>
    public const string Verify = "bouncer.verify";

    /// <summary>Span of a session lookup by id (near cache or store).</summary>
    public const string SessionLookup = "bouncer.session.lookup";

    /// <summary>Span of one revocation applied to this instance's in-memory state.</summary>
    public const string RevocationApply = "bouncer.revocation.apply";

    /// <summary>Tag: how the operation ended (<c>accepted</c>, <c>refused</c>, <c>found</c>, <c>not_found</c>, a refresh outcome).</summary>
    public const string OutcomeTag = "bouncer.outcome";

    /// <summary>Tag: the failure code of a refusal (<see cref="FailureCodes"/>).</summary>
    public const string ReasonTag = "bouncer.reason";

    /// <summary>Tag: the kind of revocation applied (session, token, user, everyone).</summary>
    public const string KindTag = "bouncer.revocation.kind";

    /// <summary>The source every Bouncer span starts on.</summary>
    public static ActivitySource Source { get; } = new(SourceName);

    /// <summary>True when some listener wants Bouncer's spans: callers take the traced path only then.</summary>
    public static bool IsTraced => Source.HasListeners();

    /// <summary>
    /// Starts an internal span named <paramref name="name"/>, or returns null (allocating nothing) when nobody
    /// listens or the sampler drops it.
    /// </summary>
    public static Activity? Start(string name) => Source.HasListeners() ? Source.StartActivity(name, ActivityKind.Internal) : null;

    /// <summary>Tags <paramref name="activity"/> (if any) with an outcome and, for a refusal, its failure code.</summary>
    public static void SetOutcome(Activity? activity, string outcome, string? reason = null)
    {
        if (activity is null) return;
        activity.SetTag(OutcomeTag, outcome);
        if (reason is not null) activity.SetTag(ReasonTag, reason);
    }

    /// <summary>
    /// Marks <paramref name="activity"/> (if any) as failed by an exception (its type name only: a message may quote
    /// input) and returns false, for use as an exception filter that lets the exception pass.
    /// </summary>
    public static bool Failed(Activity? activity, Exception exception)
    {
        activity?.SetStatus(ActivityStatusCode.Error, exception.GetType().Name);
        return false;
    }
}
