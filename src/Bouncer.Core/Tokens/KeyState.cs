namespace Bouncer.Tokens;

/// <summary>Where a key of the ring stands in its life.</summary>
public enum KeyState
{
    /// <summary>Published in the JWKS, not signing yet (its pre-publication delay has not passed).</summary>
    Pending,

    /// <summary>The key that signs now.</summary>
    Signing,

    /// <summary>Superseded: signs nothing, still verifies the tokens it signed until they can have expired.</summary>
    Verifying,
}
