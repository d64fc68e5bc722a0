namespace Bouncer.Tokens;

/// <summary>
/// A key or key set was refused while loading. <see cref="Reason"/> is a stable snake_case code
/// (e.g. <c>rsa_too_small</c>, <c>duplicate_kid</c>); the message says which key and why, never the key material.
/// </summary>
public sealed class KeyLoadException : Exception
{
    /// <summary>A refusal with its stable <paramref name="reason"/> code.</summary>
    /// <param name="reason">Stable snake_case code naming the rule the key broke.</param>
    /// <param name="message">Which key and why, never the key material.</param>
    public KeyLoadException(string reason, string message) : base(message) => Reason = reason;

    /// <summary>A refusal with its stable <paramref name="reason"/> code and the error that caused it.</summary>
    /// <param name="reason">Stable snake_case code naming the rule the key broke.</param>
    /// <param name="message">Which key and why, never the key material.</param>
    /// <param name="inner">The underlying error.</param>
    public KeyLoadException(string reason, string message, Exception inner) : base(message, inner) => Reason = reason;

    /// <summary>Stable code naming the rule the key broke.</summary>
    public string Reason { get; }
}
