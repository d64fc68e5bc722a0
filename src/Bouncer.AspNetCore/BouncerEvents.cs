namespace Bouncer.AspNetCore;

/// <summary>
/// Hooks into Bouncer's authentication, in the manner of aspnetcore's <c>JwtBearerEvents</c>: a settable delegate
/// per event and a virtual method that calls it. Set on <see cref="BouncerOptions.Events"/>. An event may refuse a
/// credential the engine accepted (<see cref="BouncerValidatedContext.Fail"/>); nothing here can accept one the
/// engine refused.
/// </summary>
public class BouncerEvents
{
    /// <summary>After an access token passed every check (signature, claims, revocation); the principal is built.</summary>
    public Func<BouncerValidatedContext, Task> OnTokenValidated { get; set; } = _ => Task.CompletedTask;

    /// <summary>After a session cookie named a live session; the principal is built.</summary>
    public Func<BouncerValidatedContext, Task> OnSessionValidated { get; set; } = _ => Task.CompletedTask;

    /// <summary>Before the 401 answer is written; set <see cref="BouncerChallengeContext.Handled"/> to write your own.</summary>
    public Func<BouncerChallengeContext, Task> OnChallenge { get; set; } = _ => Task.CompletedTask;

    /// <summary>Before the 403 answer is written; set <see cref="BouncerChallengeContext.Handled"/> to write your own.</summary>
    public Func<BouncerChallengeContext, Task> OnForbidden { get; set; } = _ => Task.CompletedTask;

    /// <summary>Invokes <see cref="OnTokenValidated"/>.</summary>
    public virtual Task TokenValidated(BouncerValidatedContext context) => OnTokenValidated(context);

    /// <summary>Invokes <see cref="OnSessionValidated"/>.</summary>
    public virtual Task SessionValidated(BouncerValidatedContext context) => OnSessionValidated(context);

    /// <summary>Invokes <see cref="OnChallenge"/>.</summary>
    public virtual Task Challenge(BouncerChallengeContext context) => OnChallenge(context);

    /// <summary>Invokes <see cref="OnForbidden"/>.</summary>
    public virtual Task Forbidden(BouncerChallengeContext context) => OnForbidden(context);
}
