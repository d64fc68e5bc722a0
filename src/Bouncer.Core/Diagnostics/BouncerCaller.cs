namespace Bouncer.Diagnostics;

/// <summary>
/// Who is asking for the operation running on this async flow: set by the host at the edge (a request's address and
/// user agent, the CLI's <c>cli</c>) so the engine's audit events name the actor without every engine method taking
/// one. Null outside any host scope: events then say <c>system</c>.
/// </summary>
public sealed class BouncerCaller
{
    private static readonly AsyncLocal<BouncerCaller?> CurrentCaller = new();

    private readonly object? _source;
    private readonly Func<object, string?>? _actorOf;
    private readonly Func<object, string?>? _clientAddressOf;
    private readonly Func<object, string?>? _userAgentOf;
    private string? _clientAddress;
    private string? _userAgent;
    private bool _clientAddressRead;
    private bool _userAgentRead;

    /// <summary>A caller described by its init properties.</summary>
    public BouncerCaller()
    {
    }

    /// <summary>
    /// A caller whose details are read from <paramref name="source"/> (the host's request, alive for as long as the
    /// operation runs) only when an event asks for them: most requests write no event, so the edge pays for one object
    /// instead of formatting an address on every request. The address and user agent are read once; the actor each
    /// time (a request is authenticated after its caller is set).
    /// </summary>
    /// <param name="source">Handed to the three readers; static readers allocate nothing per caller.</param>
    /// <param name="actor">Reads the actor; null: <see cref="Actor"/>.</param>
    /// <param name="clientAddress">Reads the client's address.</param>
    /// <param name="userAgent">Reads the user agent, at most 120 characters.</param>
    public BouncerCaller(object source, Func<object, string?> actor, Func<object, string?> clientAddress, Func<object, string?> userAgent)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(clientAddress);
        ArgumentNullException.ThrowIfNull(userAgent);
        (_source, _actorOf, _clientAddressOf, _userAgentOf) = (source, actor, clientAddress, userAgent);
    }

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
    public string? ClientAddress
    {
        get
        {
            if (_clientAddressOf is not null && !_clientAddressRead)
            {
                _clientAddress = _clientAddressOf(_source!);
                _clientAddressRead = true;
            }
            return _clientAddress;
        }
        init => _clientAddress = value;
    }

    /// <summary>The client's user agent, at most 120 characters.</summary>
    public string? UserAgent
    {
        get
        {
            if (_userAgentOf is not null && !_userAgentRead)
            {
                _userAgent = _userAgentOf(_source!);
                _userAgentRead = true;
            }
            return _userAgent;
        }
        init => _userAgent = value;
    }

    /// <summary>The actor now: resolved, else fixed.</summary>
    public string? ResolveActor() => ActorResolver?.Invoke() ?? _actorOf?.Invoke(_source!) ?? Actor;
}
