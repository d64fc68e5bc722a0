using Bouncer.Users;

namespace Bouncer.Secrets;

/// <summary>
/// The engine's view of the deployment's <see cref="ISecretStore"/>: values are encrypted by the
/// <see cref="ISecretProtector"/> on the way in and decrypted on the way out, so the store only ever holds
/// ciphertext. Without a protector (memory stores, or a networked store in Development) values pass through.
/// With one, a plain value is refused when read: it was written by an older version or around Bouncer, and the two
/// cannot be told apart (someone who can write to the store but has no key could plant a key set of their own and
/// delete the rest). An operator encrypts an older version's secrets once, on purpose, with
/// <see cref="SecretsAtRest.EncryptPlainSecretsAsync"/> (<c>bouncer secrets encrypt</c>).
/// </summary>
internal sealed class ProtectedSecretStore : ISecretStore
{
    // Not secret: the issuer is published in every token and in discovery, and health checks read it raw.
    private static readonly HashSet<string> Public = ["issuer"];

    // Every secret the engine writes; only these can have been stored in plain text by an older version.
    internal static readonly string[] EngineSecrets = ["signing-keys", "refresh-derivation-key", "revocation-feed-key", "dpop-nonce-key"];

    private readonly ISecretStore _inner;
    private readonly ISecretProtector? _protector;

    public ProtectedSecretStore(ISecretStore inner, ISecretProtector? protector)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
        _protector = protector;
    }

    /// <summary>What encrypts the values; null when they are stored as they are.</summary>
    public ISecretProtector? Protector => _protector;

    public async ValueTask<string?> GetAsync(string name, CancellationToken ct)
    {
        var stored = await _inner.GetAsync(name, ct).ConfigureAwait(false);
        return stored is null ? null : Open(name, stored);
    }

    public async ValueTask<string> GetOrAddAsync(string name, string value, CancellationToken ct)
    {
        return Open(name, await _inner.GetOrAddAsync(name, Seal(name, value), ct).ConfigureAwait(false));
    }

    public async ValueTask SetAsync(string name, string value, CancellationToken ct)
    {
        await _inner.SetAsync(name, Seal(name, value), ct).ConfigureAwait(false);
    }

    public async ValueTask<bool> ReplaceAsync(string name, string expected, string value, CancellationToken ct)
    {
        // Encryption is randomised, so the comparison is of plaintexts: the swap names the exact stored ciphertext,
        // which keeps it atomic in the store.
        var stored = await _inner.GetAsync(name, ct).ConfigureAwait(false);
        if (stored is null || Open(name, stored) != expected) return false;
        return await _inner.ReplaceAsync(name, stored, Seal(name, value), ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Encrypts the engine secrets an older version stored in plain text, in place (compare-and-set: a racing run's
    /// ciphertext is as good as this one's). Refused when one of them is sealed already: a plain value beside sealed
    /// ones was not written by Bouncer. Returns the names encrypted.
    /// </summary>
    public async Task<IReadOnlyList<string>> EncryptPlainSecretsAsync(CancellationToken ct)
    {
        if (_protector is null) throw new InvalidOperationException("No key encrypts this store's secrets (Bouncer:KeyEncryption): there is nothing to encrypt them with.");
        var stored = new Dictionary<string, string>();
        foreach (var name in EngineSecrets)
            if (await _inner.GetAsync(name, ct).ConfigureAwait(false) is { } value) stored[name] = value;
        var plain = stored.Where(s => !IsSealed(s.Value)).Select(s => s.Key).ToList();
        if (plain.Count > 0 && plain.Count < stored.Count)
            throw new InvalidOperationException($"The stored secret '{plain[0]}' is in plain text beside encrypted ones: it was not written by Bouncer. Delete it (Bouncer generates a fresh one) instead of encrypting it.");
        foreach (var name in plain)
            await _inner.ReplaceAsync(name, stored[name], _protector.Protect(name, stored[name]), ct).ConfigureAwait(false);
        return plain;
    }

    private string Seal(string name, string value) => _protector is null || Public.Contains(name) ? value : _protector.Protect(name, value);

    private string Open(string name, string stored)
    {
        if (Public.Contains(name) || (_protector is null && !IsSealed(stored))) return stored;
        // Refusing every plain value means write access to the store without the key cannot plant a signing key, not even
        // by replacing every secret at once (which looks like an older version's store): encrypting those is an operator's act.
        if (!IsSealed(stored))
            throw new InvalidOperationException($"The stored secret '{name}' is in plain text although Bouncer encrypts its secrets ({_protector!.Description}): " +
                "if an older version wrote it, run `bouncer secrets encrypt` once to encrypt it in place; otherwise it was written around Bouncer, so delete it.");
        if (_protector is null)
            throw new InvalidOperationException(
                $"Bouncer:KeyEncryption:KeyFile is not set, but the stored secret '{name}' is encrypted: configure the key file (or Data Protection key ring) the other instances use.");
        if (!_protector.IsProtected(stored))
            throw new InvalidOperationException(
                $"Bouncer cannot decrypt its stored secret '{name}': it was encrypted by another kind of protector than {_protector.Description}; configure the one the other instances use (Bouncer:KeyEncryption).");
        return _protector.Unprotect(name, stored);
    }

    // Any protector's format: a value one protector sealed must never be taken for plain text by another.
    private static bool IsSealed(string stored) => stored.StartsWith("bouncer-enc:", StringComparison.Ordinal) || stored.StartsWith("bouncer-dp:", StringComparison.Ordinal);
}
