using Bouncer.Users;

namespace Bouncer.Secrets;

/// <summary>
/// The engine's view of the deployment's <see cref="ISecretStore"/>: values are encrypted by the
/// <see cref="ISecretProtector"/> on the way in and decrypted on the way out, so the store only ever holds
/// ciphertext. Without a protector (memory stores, or a networked store in Development) values pass through.
/// On first use, the secrets an older version stored in plain text are encrypted in place (compare-and-set, so
/// several instances starting at once agree); once any value is sealed, a plain one is refused.
/// </summary>
internal sealed class ProtectedSecretStore : ISecretStore
{
    // Not secret: the issuer is published in every token and in discovery, and health checks read it raw.
    private static readonly HashSet<string> Public = ["issuer"];

    // Every secret the engine writes; only these can have been stored in plain text by an older version.
    internal static readonly string[] EngineSecrets = ["signing-keys", "refresh-derivation-key", "revocation-feed-key", "dpop-nonce-key"];

    private readonly ISecretStore _inner;
    private readonly ISecretProtector? _protector;
    private readonly Lazy<Task> _migrated;

    public ProtectedSecretStore(ISecretStore inner, ISecretProtector? protector)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
        _protector = protector;
        _migrated = new Lazy<Task>(() => EncryptPlainValuesAsync(CancellationToken.None));
    }

    /// <summary>What encrypts the values; null when they are stored as they are.</summary>
    public ISecretProtector? Protector => _protector;

    public async ValueTask<string?> GetAsync(string name, CancellationToken ct)
    {
        await ReadyAsync(ct).ConfigureAwait(false);
        var stored = await _inner.GetAsync(name, ct).ConfigureAwait(false);
        return stored is null ? null : Open(name, stored);
    }

    public async ValueTask<string> GetOrAddAsync(string name, string value, CancellationToken ct)
    {
        await ReadyAsync(ct).ConfigureAwait(false);
        return Open(name, await _inner.GetOrAddAsync(name, Seal(name, value), ct).ConfigureAwait(false));
    }

    public async ValueTask SetAsync(string name, string value, CancellationToken ct)
    {
        await ReadyAsync(ct).ConfigureAwait(false);
        await _inner.SetAsync(name, Seal(name, value), ct).ConfigureAwait(false);
    }

    public async ValueTask<bool> ReplaceAsync(string name, string expected, string value, CancellationToken ct)
    {
        await ReadyAsync(ct).ConfigureAwait(false);
        // Encryption is randomised, so the comparison is of plaintexts: the swap names the exact stored ciphertext,
        // which keeps it atomic in the store.
        var stored = await _inner.GetAsync(name, ct).ConfigureAwait(false);
        if (stored is null || Open(name, stored) != expected) return false;
        return await _inner.ReplaceAsync(name, stored, Seal(name, value), ct).ConfigureAwait(false);
    }

    private Task ReadyAsync(CancellationToken ct) => _migrated.Value.IsCompletedSuccessfully ? Task.CompletedTask : _migrated.Value.WaitAsync(ct);

    private async Task EncryptPlainValuesAsync(CancellationToken ct)
    {
        if (_protector is null) return;
        var stored = new Dictionary<string, string>();
        foreach (var name in EngineSecrets)
            if (await _inner.GetAsync(name, ct).ConfigureAwait(false) is { } value) stored[name] = value;
        // Only a deployment that never encrypted (every secret plain) is migrated: once one value is sealed, a plain one
        // beside it was not written by Bouncer and is refused when read.
        if (stored.Values.Any(IsSealed)) return;
        foreach (var (name, value) in stored)
        {
            // Lost a race with another instance doing the same: its ciphertext is as good as ours.
            await _inner.ReplaceAsync(name, value, _protector.Protect(name, value), ct).ConfigureAwait(false);
        }
    }

    private string Seal(string name, string value) => _protector is null || Public.Contains(name) ? value : _protector.Protect(name, value);

    private string Open(string name, string stored)
    {
        if (Public.Contains(name) || (_protector is null && !IsSealed(stored))) return stored;
        // Plain values were encrypted at start; one seen now was written around the protector. Refusing it means
        // write access to the store without the key cannot plant a signing key.
        if (!IsSealed(stored))
            throw new InvalidOperationException($"The stored secret '{name}' is in plain text although Bouncer encrypts its secrets ({_protector!.Description}): it was not written by Bouncer.");
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
