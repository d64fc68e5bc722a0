namespace Bouncer.Dpop;

/// <summary>How a deployment (or a downstream verifier) treats DPoP (RFC 9449) proofs and key-bound tokens.</summary>
public enum DpopMode
{
    /// <summary>
    /// No binding: token requests ignore a <c>DPoP</c> header and answer <c>token_type: Bearer</c>, resources do not
    /// accept the <c>DPoP</c> scheme. A token that is bound all the same (<c>cnf.jkt</c>) is still refused as Bearer.
    /// </summary>
    Off,

    /// <summary>Bind when the client sends a proof; unbound bearer tokens stay accepted. The default.</summary>
    Optional,

    /// <summary>Every token request needs a proof and every resource request a bound token with its proof.</summary>
    Required,
}
