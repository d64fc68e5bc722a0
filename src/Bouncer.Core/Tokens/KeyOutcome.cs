namespace Bouncer.Tokens;

/// <summary>The outcome of retiring or revoking one key.</summary>
public enum KeyOutcome
{
    /// <summary>Done.</summary>
    Done,

    /// <summary>The ring holds no key with that kid (never existed, already retired or revoked).</summary>
    NotFound,

    /// <summary>Refused: the key signs now. Rotate first, or revoke it if it is compromised.</summary>
    Signing,

    /// <summary>Refused: tokens the key signed may still be live. It retires by itself; revoke it if it is compromised.</summary>
    TokensLive,
}
