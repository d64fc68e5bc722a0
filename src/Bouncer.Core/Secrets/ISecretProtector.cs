namespace Bouncer.Secrets;

/// <summary>
/// Encrypts the deployment's secrets (private signing keys, the refresh derivation key, the revocation-feed key)
/// before they reach the store, with a key-encryption key the store never holds: a dump or backup of the store alone
/// cannot mint tokens (OWASP ASVS 5.0 V11.5, keys at rest). Every instance sharing a store needs the same protector
/// key (the same key file, or the same Data Protection key ring).
/// </summary>
public interface ISecretProtector
{
    /// <summary>Where the key-encryption key lives, for start-up logs and error messages; never the key itself.</summary>
    string Description { get; }

    /// <summary>True when <paramref name="stored"/> is in this protector's format (it may still be for another key).</summary>
    bool IsProtected(string stored);

    /// <summary>Encrypts <paramref name="plaintext"/>, bound to <paramref name="name"/> so a value cannot be moved to another name.</summary>
    string Protect(string name, string plaintext);

    /// <summary>Decrypts a value <see cref="Protect"/> made for <paramref name="name"/>.</summary>
    /// <exception cref="InvalidOperationException">Another key encrypted it, or it was changed: one line naming the setting.</exception>
    string Unprotect(string name, string stored);
}
