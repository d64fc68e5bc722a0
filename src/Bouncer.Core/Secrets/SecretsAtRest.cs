namespace Bouncer.Secrets;

/// <summary>
/// The deployment's secrets at rest (private signing keys, the refresh derivation key, the feed key): whether a key
/// encrypts them, and the one-time, deliberate encryption of what an older version stored in plain text. Bouncer never
/// encrypts plain secrets by itself: someone who can write to the store but has no key could otherwise replace every
/// secret with plain values of their own and have the next start seal and trust them.
/// </summary>
public sealed class SecretsAtRest
{
    private readonly ProtectedSecretStore _store;

    internal SecretsAtRest(ProtectedSecretStore store) => _store = store;

    /// <summary>What encrypts the secrets (e.g. "the key file /etc/bouncer/bouncer.key"), or null when they are stored as they are.</summary>
    public string? Protector => _store.Protector?.Description;

    /// <summary>
    /// Encrypts in place the engine secrets an older version stored in plain text (<c>bouncer secrets encrypt</c>): run
    /// once, by an operator who knows those values are the deployment's own. Safe to repeat and to run beside live
    /// instances (compare-and-set). Returns the names it encrypted (none when all are sealed already).
    /// </summary>
    /// <exception cref="InvalidOperationException">No key is configured, or a plain value sits beside sealed ones (not written by Bouncer: delete it).</exception>
    public Task<IReadOnlyList<string>> EncryptPlainSecretsAsync(CancellationToken ct) => _store.EncryptPlainSecretsAsync(ct);
}
