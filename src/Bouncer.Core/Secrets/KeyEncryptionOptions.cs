namespace Bouncer.Secrets;

/// <summary>
/// Where the key that encrypts the deployment's secrets at rest comes from (<c>Bouncer:KeyEncryption</c>). With
/// neither set: the app's Data Protection key ring when it configured one (Bouncer.AspNetCore), a key file beside the
/// database on SQLite, nothing needed in memory; a networked store (Redis, PostgreSQL) refuses to start outside
/// Development.
/// </summary>
public sealed class KeyEncryptionOptions
{
    /// <summary>
    /// A file holding the key (32 random bytes, base64url), created with mode 0600 when missing. Every instance sharing
    /// a store must read the same key: the same file, copied or mounted.
    /// </summary>
    public string? KeyFile { get; set; }

    /// <summary>The key itself, base64url of 32 bytes, e.g. from an environment variable (<c>Bouncer__KeyEncryption__Key</c>). Wins over <see cref="KeyFile"/>.</summary>
    public string? Key { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad property.</summary>
    public void Validate()
    {
        if (Key is not null && KeyFileSecretProtector.TryParseKey(Key) is null)
            throw new ArgumentException("must be 32 random bytes in base64url (e.g. `openssl rand 32 | basenc --base64url`).", nameof(Key));
        if (KeyFile is not null && string.IsNullOrWhiteSpace(KeyFile))
            throw new ArgumentException("must name a file.", nameof(KeyFile));
    }
}
