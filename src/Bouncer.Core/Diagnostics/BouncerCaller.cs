namespace Bouncer.Diagnostics;

/// <summary>
/// Who is asking for the operation running on this async flow: set by the host at the edge (a request's address and
/// user agent, the CLI's <c>cli</c>) so the engine's audit events name the actor without every engine method taking
/// one. Null outside any host scope: events then say <c>system</c>.
/// </summary>
public sealed class BouncerCaller
{
    private static readonly AsyncLocal<BouncerCaller?> CurrentCaller = new();

    /// <summary>The caller of the operation on this async flow, or null.</summary>
    public static BouncerCaller? Current
    {
        get => CurrentCaller.Value;
        set => CurrentCaller.Value = value;
    }

    /// <summary>A fixed actor name (<c>cli</c>); <see cref="ActorResolver"/> wins when it answers.</summary>
    public string? Actor { get; init; }

    /// <summary>Reads the actor when the event is written (a request is authenticated after the caller is set).</summary>
    public Func<string?>? ActorResolver { get; init; }

    /// <summary>The client's address.</summary>
    public string? ClientAddress { get; init; }

    /// <summary>The client's user agent, at most 120 characters.</summary>
    public string? UserAgent { get; init; }

    /// <summary>The actor now: resolved, else fixed.</summary>
    public string? ResolveActor() => ActorResolver?.Invoke() ?? Actor;
}
