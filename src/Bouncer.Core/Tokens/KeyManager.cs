using System.Buffers;
using Bouncer.Diagnostics;
using Bouncer.Revocation;

namespace Bouncer.Tokens;

/// <summary>
/// Every change to the deployment's signing keys, each one engine call: saved to the shared store by compare-and-set
/// (of several instances making the same scheduled change at once, exactly one makes it), announced on the revocation
/// channel when a key is revoked, and audited. The admin API, the CLI and the engine's housekeeping translate to these
/// calls and do nothing else. Thread-safe.
/// </summary>
/// <remarks>
/// The timeline of a key (see docs/keys.md): added and published in the JWKS; signs from
/// <see cref="BouncerEngineOptions.KeyPrePublicationDelay"/> later; superseded by the next scheduled key one
/// <see cref="BouncerEngineOptions.KeyRotationInterval"/> after it began to sign; dropped once its successor has signed
/// for the longest access-token lifetime plus skew (every token it signed has expired by then). A revoked key skips
/// the rest: it is removed at once, a fresh key signs at once, and its kid is announced so that every verifier refuses
/// its tokens, whatever JWKS it has cached.
/// </remarks>
/// <example><code>
/// var keys = provider.GetRequiredService&lt;KeyManager&gt;();
/// foreach (var k in await keys.ListAsync(ct)) Console.WriteLine($"{k.KeyId} {k.State} {k.SignsFrom:u}");
/// var (outcome, replacement) = await keys.RevokeAsync("Qx3...", "compromised", ct);
/// </code></example>
public sealed class KeyManager
{
    private const int MaxKidLength = 128;
    private static readonly SearchValues<char> KidAlphabet =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.");

    private readonly BouncerTokens _tokens;
    private readonly IRevocationChannel _channel;
    private readonly BouncerEngineOptions _options;
    private readonly TimeProvider _time;
    private readonly BouncerAudit? _audit;

    /// <summary>The key changes over the engine's token identity and revocation channel.</summary>
    public KeyManager(BouncerTokens tokens, IRevocationChannel channel, BouncerEngineOptions options, TimeProvider? time = null, BouncerAudit? audit = null)
    {
        _tokens = tokens ?? throw new ArgumentNullException(nameof(tokens));
        _channel = channel ?? throw new ArgumentNullException(nameof(channel));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _time = time ?? TimeProvider.System;
        _audit = audit;
    }

    /// <summary>The ring the changes apply to.</summary>
    public KeyRing Keys => _tokens.Keys;

    /// <summary>True for a kid this engine could have issued: 1 to 128 of <c>A-Z a-z 0-9 - _ .</c>.</summary>
    public static bool IsWellFormedKid(string? kid) =>
        !string.IsNullOrEmpty(kid) && kid.Length <= MaxKidLength && !kid.AsSpan().ContainsAnyExcept(KidAlphabet);

    /// <summary>The keys as stored now (re-read, so a change by another instance shows), oldest first.</summary>
    public async Task<IReadOnlyList<KeyInfo>> ListAsync(CancellationToken ct)
    {
        await Keys.ReloadAsync(ct).ConfigureAwait(false);
        return Keys.Describe();
    }

    /// <summary>
    /// Adds a key now, published at once, signing after <see cref="BouncerEngineOptions.KeyPrePublicationDelay"/>
    /// (keys past retirement are dropped on the way). Returns the new key's state.
    /// </summary>
    /// <param name="reason">For the audit trail: <c>admin</c>, <c>cli</c>.</param>
    /// <param name="algorithm">The new key's algorithm; null: <see cref="BouncerEngineOptions.SigningAlgorithm"/>.</param>
    /// <param name="ct">Cancels the operation.</param>
    /// <exception cref="KeyLoadException">The stored set is refused; nothing changed.</exception>
    /// <exception cref="InvalidOperationException">The stored set kept changing under the compare-and-set; nothing changed.</exception>
    public async Task<KeyInfo> RotateAsync(string reason, JwsAlgorithm? algorithm, CancellationToken ct)
    {
        var change = await Keys.RotateNowAsync(algorithm, ct).ConfigureAwait(false);
        await AuditAsync(change, reason, ct).ConfigureAwait(false);
        var kid = change.Added[^1].KeyId!;
        return Keys.Describe().First(k => k.KeyId == kid);
    }

    /// <summary>Drops every key past its retirement (what housekeeping does on its own). Returns their kids.</summary>
    public async Task<IReadOnlyList<string>> RetireDueAsync(string reason, CancellationToken ct)
    {
        var change = await Keys.RetireDueAsync(ct).ConfigureAwait(false);
        await AuditAsync(change, reason, ct).ConfigureAwait(false);
        return change.Removed;
    }

    /// <summary>
    /// Drops one key that vouches for no live token: one that never signed (pending) or one past its retirement. Refused
    /// (<see cref="KeyOutcome.Signing"/>, <see cref="KeyOutcome.TokensLive"/> with the time it becomes retirable) otherwise:
    /// a compromised key is revoked (<see cref="RevokeAsync"/>), not retired.
    /// </summary>
    public async Task<(KeyOutcome Outcome, DateTimeOffset? RetirableAt)> RetireAsync(string kid, string reason, CancellationToken ct)
    {
        if (!IsWellFormedKid(kid)) return (KeyOutcome.NotFound, null);
        var (change, outcome, retiresAt) = await Keys.RetireAsync(kid, ct).ConfigureAwait(false);
        await AuditAsync(change, reason, ct).ConfigureAwait(false);
        return (outcome, retiresAt);
    }

    /// <summary>
    /// Key compromise: removes <paramref name="kid"/> from the ring at once (a fresh key that signs at once replaces it
    /// when it was the signer, in the same compare-and-set, so the ring is never without a signer), then announces it:
    /// every instance and downstream verifier refuses the tokens it signed from its next request after the announcement,
    /// even one that still holds the key in a cached JWKS. A kid the ring no longer holds (already retired, revoked
    /// elsewhere, or a retry after a failed announcement) is still announced, and answers <see cref="KeyOutcome.NotFound"/>.
    /// </summary>
    /// <returns>Done with the replacement's kid (null when the revoked key was not the signer), or NotFound.</returns>
    /// <exception cref="ArgumentException"><paramref name="kid"/> is not a well-formed kid.</exception>
    public async Task<(KeyOutcome Outcome, string? NewKeyId)> RevokeAsync(string kid, string reason, CancellationToken ct)
    {
        if (!IsWellFormedKid(kid)) throw new ArgumentException("a kid is 1 to 128 characters of A-Z a-z 0-9 - _ .", nameof(kid));
        var change = await Keys.RevokeAsync(kid, ct).ConfigureAwait(false);
        bool found = change.Removed.Contains(kid);
        // Removed from the store first (no instance loads it again), then announced. Kept while a verifier may hold the
        // key: in a cached JWKS (the pre-publication delay is set to the longest cache) or in a live token.
        var now = _time.GetUtcNow();
        var keep = (_options.KeyPrePublicationDelay > _options.MaxAccessTokenLifetime ? _options.KeyPrePublicationDelay : _options.MaxAccessTokenLifetime)
            + Keys.Options.ClockSkew;
        await _channel.PublishAsync(new RevocationRecord(RevocationKind.Key, kid, now, now + keep), ct).ConfigureAwait(false);
        if (_audit is not null)
        {
            await _audit.RecordAsync(AuditEventKind.KeyRevoked, null, kid, found ? reason : reason + " (not in the ring)", ct).ConfigureAwait(false);
            foreach (var added in change.Added)
                await _audit.RecordAsync(AuditEventKind.KeyRotated, null, added.KeyId, "replaces_revoked", ct).ConfigureAwait(false);
        }
        return (found ? KeyOutcome.Done : KeyOutcome.NotFound, change.Added.Count > 0 ? change.Added[^1].KeyId : null);
    }

    /// <summary>
    /// One housekeeping step (the engine runs it every 30 s): picks up changes made by other instances, adds the scheduled
    /// key when one is due, drops keys past retirement. Safe on every instance at once.
    /// </summary>
    public async Task RunScheduleAsync(CancellationToken ct)
    {
        await Keys.ReloadAsync(ct).ConfigureAwait(false);
        await AuditAsync(await Keys.RotateIfDueAsync(ct).ConfigureAwait(false), "scheduled", ct).ConfigureAwait(false);
        await AuditAsync(await Keys.RetireDueAsync(ct).ConfigureAwait(false), "expired", ct).ConfigureAwait(false);
    }

    /// <summary>Applies a revocation announced by another instance: the key stops signing and verifying here at once.</summary>
    internal void OnRevoked(in RevocationRecord revocation)
    {
        if (revocation.Kind != RevocationKind.Key) return;
        Keys.Forget(revocation.Subject);
        // The revoking instance saved the new set before announcing: read it, so a replacement signer is known here.
        _ = Task.Run(async () =>
        {
            try { await Keys.ReloadAsync(CancellationToken.None).ConfigureAwait(false); }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Housekeeping reloads every 30 s; until then the revoked key is already out of this ring.
            }
        });
    }

    private async Task AuditAsync(KeyRing.Change change, string reason, CancellationToken ct)
    {
        if (_audit is null || !change.Changed) return;
        foreach (var added in change.Added) await _audit.RecordAsync(AuditEventKind.KeyRotated, null, added.KeyId, reason, ct).ConfigureAwait(false);
        foreach (var removed in change.Removed) await _audit.RecordAsync(AuditEventKind.KeyRetired, null, removed, reason, ct).ConfigureAwait(false);
    }
}
