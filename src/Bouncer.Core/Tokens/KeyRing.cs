using System.Text;
using System.Text.Json;

namespace Bouncer.Tokens;

/// <summary>Rotation policy of a <see cref="KeyRing"/>.</summary>
public sealed class KeyRingOptions
{
    /// <summary>The algorithm of keys the ring generates. Default ES256.</summary>
    public JwsAlgorithm Algorithm { get; init; } = JwsAlgorithm.ES256;

    /// <summary>
    /// How long a new key sits in the JWKS before it signs, so that verifiers caching the JWKS learn it first.
    /// Default 1 hour; zero signs at once.
    /// </summary>
    public TimeSpan PrePublicationDelay { get; init; } = TimeSpan.FromHours(1);

    /// <summary>The longest lifetime of a token the ring's keys sign. Default 1 hour.</summary>
    public TimeSpan MaxTokenLifetime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>The verifiers' clock skew. Default 30 s.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How often a scheduled rotation adds a key: the next key signs this long after the newest one started to sign
    /// (it is added <see cref="PrePublicationDelay"/> earlier). Default 30 days.
    /// </summary>
    public TimeSpan RotationInterval { get; init; } = TimeSpan.FromDays(30);
}

/// <summary>
/// The signing key plus the older keys that still verify. <see cref="RotateAsync"/> adds a key that is published at
/// once (in <see cref="GetPublicJwks"/> and to verifiers) but signs only after <see cref="KeyRingOptions.PrePublicationDelay"/>;
/// a superseded key keeps verifying for <see cref="KeyRingOptions.MaxTokenLifetime"/> plus <see cref="KeyRingOptions.ClockSkew"/>
/// after it last signed, then drops out. State is a function of the clock, persisted through an <see cref="IKeyStore"/>.
/// Thread-safe. Private material never appears in <see cref="ToString"/> or logs.
/// </summary>
/// <example><code>
/// var ring = await KeyRing.LoadOrCreateAsync(new FileKeyStore("keys.json"), new KeyRingOptions(), TimeProvider.System, ct);
/// var verifier = new JwsVerifier(ring, verifyOptions, TimeProvider.System);
/// var issuer = new JwsIssuer(ring, issueOptions, TimeProvider.System);
/// await ring.RotateAsync(ct);   // e.g. monthly
/// </code></example>
public sealed class KeyRing : IKeySource
{
    private const string RingMember = "bouncer_ring";

    private readonly IKeyStore _store;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private volatile Entry[] _entries;
    private volatile CachedSnapshot? _cached;
    private readonly SemaphoreSlim _changeGate = new(1, 1);
    private long _version;   // bumped by every change this instance saves; a reload that raced one is dropped
    // Kids revoked (here or announced by another instance): never loaded again by this process, even from a stale read.
    private readonly HashSet<string> _revoked = new(StringComparer.Ordinal);

    internal sealed record Entry(SigningKey Key, long ActivatesAt);

    /// <summary>The stored set before and after one change (the same array when nothing changed).</summary>
    internal readonly record struct Change(Entry[] Before, Entry[] After)
    {
        public bool Changed => !ReferenceEquals(Before, After);

        public IReadOnlyList<SigningKey> Added => Except(After, Before).Select(e => e.Key).ToArray();

        public IReadOnlyList<string> Removed => Except(Before, After).Select(e => e.Key.KeyId!).ToArray();

        private static IEnumerable<Entry> Except(Entry[] these, Entry[] those) =>
            these.Where(a => !those.Any(b => b.Key.KeyId == a.Key.KeyId));
    }

    private sealed class CachedSnapshot(KeySnapshot snapshot, long validFrom, long validUntil)
    {
        public KeySnapshot Snapshot { get; } = snapshot;
        public long ValidFrom { get; } = validFrom;
        public long ValidUntil { get; } = validUntil;
    }

    private KeyRing(IKeyStore store, KeyRingOptions options, TimeProvider time, Entry[] entries)
    {
        _store = store;
        Options = options;
        _time = time;
        _entries = entries;
    }

    /// <summary>The rotation policy.</summary>
    public KeyRingOptions Options { get; }

    /// <summary>Loads the ring from <paramref name="store"/>, or creates one with a fresh key (signing at once) and saves it.</summary>
    /// <exception cref="KeyLoadException">The stored set is refused.</exception>
    public static async Task<KeyRing> LoadOrCreateAsync(IKeyStore store, KeyRingOptions options, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        var time = timeProvider ?? TimeProvider.System;
        string? stored = await store.LoadAsync(cancellationToken).ConfigureAwait(false);
        if (stored is not null)
            return new KeyRing(store, options, time, Parse(stored));
        var entry = new Entry(SigningKey.Generate(options.Algorithm), time.GetUtcNow().ToUnixTimeSeconds());
        var ring = new KeyRing(store, options, time, [entry]);
        // Compare-and-set against "nothing stored": of instances starting at once on a new store, the first set wins
        // and the others load it, so they all sign with the same keys.
        if (await store.ReplaceAsync(null, ring.Serialize(ring._entries), cancellationToken).ConfigureAwait(false)) return ring;
        stored = await store.LoadAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException("the key store refused the first key set and holds none");
        return new KeyRing(store, options, time, Parse(stored));
    }

    /// <summary>The key that signs now: the newest key whose pre-publication delay has passed.</summary>
    public SigningKey CurrentSigningKey => GetSigningKey(_time.GetUtcNow());

    /// <summary>Every key a verifier accepts now: pending, current and not yet retired keys.</summary>
    public JwkSet VerificationKeys => JwkSet.Create(GetSnapshot().Keys);

    /// <summary>The public JWKS to publish now (public halves only).</summary>
    /// <exception cref="InvalidOperationException">The ring holds HS256 keys, which are never published.</exception>
    public string GetPublicJwks() => VerificationKeys.ToPublicJson();

    /// <summary>
    /// Adds a freshly generated key that signs from now + <see cref="KeyRingOptions.PrePublicationDelay"/>, drops keys
    /// whose retirement has passed, and saves. Returns the new key.
    /// </summary>
    public async Task<SigningKey> RotateAsync(CancellationToken cancellationToken = default) =>
        (await RotateNowAsync(null, cancellationToken).ConfigureAwait(false)).Added[^1];

    /// <summary>As <see cref="RotateAsync"/>, returning the whole change (the keys it retired on the way too).</summary>
    internal Task<Change> RotateNowAsync(JwsAlgorithm? algorithm, CancellationToken cancellationToken)
    {
        var key = SigningKey.Generate(algorithm ?? Options.Algorithm);
        long activatesAt = (_time.GetUtcNow() + Options.PrePublicationDelay).ToUnixTimeSeconds();
        return ChangeStoredAsync(entries =>
        {
            Entry[] next = [.. Live(entries, _time.GetUtcNow().ToUnixTimeSeconds()), new Entry(key, Math.Max(activatesAt, entries[^1].ActivatesAt + 1))];
            JwkSet.Validate(next.Select(e => e.Key).ToArray());
            return next;
        }, cancellationToken);
    }

    /// <summary>
    /// Re-reads the stored set, picking up a rotation made by another instance of the deployment (the
    /// pre-publication delay gives every instance time to do so before the new key signs).
    /// </summary>
    /// <exception cref="KeyLoadException">The stored set is refused; the ring keeps its current keys.</exception>
    public async Task ReloadAsync(CancellationToken cancellationToken = default)
    {
        long version = Volatile.Read(ref _version);
        string? stored = await _store.LoadAsync(cancellationToken).ConfigureAwait(false);
        if (stored is null) return;
        var entries = KeepKnownKeys(Parse(stored));
        lock (_lock)
        {
            // A rotation or prune of this instance saved while the read was in flight: what was read may predate it.
            if (_version != version) return;
            entries = WithoutRevoked(entries);
            _entries = entries;
            _cached = null;
        }
    }

    /// <summary>Drops retired keys and saves when any was dropped. Returns how many were dropped.</summary>
    public async Task<int> PruneAsync(CancellationToken cancellationToken = default)
    {
        int dropped = 0;
        await ChangeStoredAsync(entries =>
        {
            var next = Live(entries, _time.GetUtcNow().ToUnixTimeSeconds());
            dropped = entries.Length - next.Length;
            return dropped == 0 ? null : next;
        }, cancellationToken).ConfigureAwait(false);
        return dropped;
    }

    // Read-modify-write of the stored set with compare-and-set: other instances rotate and prune the same set, and
    // a change computed from this instance's copy (up to one reload interval old) would silently drop theirs. On a
    // lost race the stored set is read again and the change recomputed from it. change returns null for "no change".
    private async Task<Change> ChangeStoredAsync(Func<Entry[], Entry[]?> change, CancellationToken cancellationToken)
    {
        // One change at a time per ring: the store's default compare-and-set (a file) is two steps, and two changes
        // of one instance must also apply to _entries in the order they were saved.
        await _changeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await ChangeStoredCoreAsync(change, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _changeGate.Release();
        }
    }

    private async Task<Change> ChangeStoredCoreAsync(Func<Entry[], Entry[]?> change, CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            string? stored = await _store.LoadAsync(cancellationToken).ConfigureAwait(false);
            var current = stored is null ? _entries : KeepKnownKeys(Parse(stored));
            // A revoked key still in the stored set (a revocation that raced this read) is dropped by this change too.
            var filtered = WithoutRevoked(current);
            var next = change(filtered);
            if (next is null && ReferenceEquals(filtered, current))
            {
                Apply(current);
                return new Change(current, current);
            }
            next ??= filtered;
            if (await _store.ReplaceAsync(stored, Serialize(next), cancellationToken).ConfigureAwait(false))
            {
                Apply(next);
                return new Change(current, next);
            }
            if (attempt >= 16) throw new InvalidOperationException("the stored key set kept changing under this update; try again");
        }
    }

    /// <summary>
    /// Scheduled rotation: when the newest key has signed (or will sign) for <see cref="KeyRingOptions.RotationInterval"/>
    /// minus the pre-publication delay, adds a key that signs one pre-publication delay from now. Decided on the stored set
    /// under compare-and-set, so of instances running it at once exactly one adds the key; the others find it not due.
    /// </summary>
    internal async Task<Change> RotateIfDueAsync(CancellationToken cancellationToken)
    {
        // Generating a key (RSA) costs milliseconds: only when this instance's copy says a rotation is due.
        if (!IsRotationDue(_entries, _time.GetUtcNow().ToUnixTimeSeconds())) return new Change(_entries, _entries);
        var key = SigningKey.Generate(Options.Algorithm);
        return await ChangeStoredAsync(entries =>
        {
            long now = _time.GetUtcNow().ToUnixTimeSeconds();
            if (!IsRotationDue(entries, now)) return null;
            long activatesAt = now + (long)Options.PrePublicationDelay.TotalSeconds;
            return [.. entries, new Entry(key, Math.Max(activatesAt, entries[^1].ActivatesAt + 1))];
        }, cancellationToken).ConfigureAwait(false);
    }

    private bool IsRotationDue(Entry[] entries, long now) =>
        entries.Length == 0 || now >= entries[^1].ActivatesAt + (long)(Options.RotationInterval - Options.PrePublicationDelay).TotalSeconds;

    /// <summary>Drops every key whose retirement has passed (its successor has signed for the longest token lifetime plus skew).</summary>
    internal Task<Change> RetireDueAsync(CancellationToken cancellationToken) =>
        ChangeStoredAsync(entries =>
        {
            var next = Live(entries, _time.GetUtcNow().ToUnixTimeSeconds());
            return next.Length == entries.Length ? null : next;
        }, cancellationToken);

    /// <summary>
    /// Drops one key that can vouch for no live token: a pending key (it never signed) or one past its retirement.
    /// The outcome says why nothing was dropped otherwise: the key signs now, or tokens it signed may still be live.
    /// </summary>
    internal async Task<(Change Change, KeyOutcome Refusal, DateTimeOffset? RetiresAt)> RetireAsync(string kid, CancellationToken cancellationToken)
    {
        var refusal = KeyOutcome.NotFound;
        DateTimeOffset? retiresAt = null;
        var change = await ChangeStoredAsync(entries =>
        {
            long now = _time.GetUtcNow().ToUnixTimeSeconds();
            int i = Array.FindIndex(entries, e => e.Key.KeyId == kid);
            if (i < 0) { refusal = KeyOutcome.NotFound; return null; }
            bool pending = entries[i].ActivatesAt > now && i > 0;
            bool retired = i + 1 < entries.Length && entries[i + 1].ActivatesAt <= now && now > RetiresAt(entries[i + 1]);
            if (!pending && !retired)
            {
                bool signing = ReferenceEquals(SigningEntry(entries, now), entries[i]);
                refusal = signing ? KeyOutcome.Signing : KeyOutcome.TokensLive;
                if (!signing) retiresAt = DateTimeOffset.FromUnixTimeSeconds(RetiresAt(entries[i + 1]) + 1);
                return null;
            }
            refusal = KeyOutcome.Done;
            return [.. entries.Where((_, j) => j != i)];
        }, cancellationToken).ConfigureAwait(false);
        return (change, refusal, retiresAt);
    }

    /// <summary>
    /// Key compromise: removes <paramref name="kid"/> at once and, when it was the key signing now, adds a fresh key that
    /// signs now (generated and saved in the same compare-and-set, so the ring is never left without a signer). The kid
    /// is never loaded again by this process.
    /// </summary>
    internal async Task<Change> RevokeAsync(string kid, CancellationToken cancellationToken)
    {
        // The replacement keeps the revoked key's algorithm: verifiers pinned to it keep working.
        var fresh = SigningKey.Generate(Array.Find(_entries, e => e.Key.KeyId == kid)?.Key.Algorithm ?? Options.Algorithm);
        var change = await ChangeStoredAsync(entries =>
        {
            long now = _time.GetUtcNow().ToUnixTimeSeconds();
            int i = Array.FindIndex(entries, e => e.Key.KeyId == kid);
            if (i < 0) return null;
            bool signing = ReferenceEquals(SigningEntry(entries, now), entries[i]);
            var rest = entries.Where((_, j) => j != i).ToList();
            if (signing || rest.Count == 0)
            {
                // Signs from now: placed after every key already active, before the pending ones, so it is the newest active key.
                int at = rest.FindLastIndex(e => e.ActivatesAt <= now) + 1;
                rest.Insert(at, new Entry(fresh, now));
            }
            return [.. rest];
        }, cancellationToken).ConfigureAwait(false);
        Forget(kid);
        return change;
    }

    /// <summary>
    /// A revocation of <paramref name="kid"/> announced by another instance: the key stops verifying and signing here at
    /// once (unless it is the only key held; the reload that follows brings its replacement), and is never loaded again.
    /// </summary>
    internal void Forget(string kid)
    {
        lock (_lock)
        {
            lock (_revoked)
                if (!_revoked.Add(kid)) return;
            var kept = WithoutRevoked(_entries);
            if (ReferenceEquals(kept, _entries)) return;
            _entries = kept;
            _cached = null;
            // A reload in flight read the set before the revocation: it must not bring the key back.
            _version++;
        }
    }

    /// <summary>The keys as they stand now, oldest first.</summary>
    internal IReadOnlyList<KeyInfo> Describe()
    {
        long now = _time.GetUtcNow().ToUnixTimeSeconds();
        var entries = _entries;
        var live = Live(entries, now);
        var signing = SigningEntry(entries, now);
        var list = new List<KeyInfo>(entries.Length);
        for (int i = 0; i < entries.Length; i++)
        {
            if (!live.Contains(entries[i])) continue;
            var e = entries[i];
            var state = ReferenceEquals(e, signing) ? KeyState.Signing : e.ActivatesAt > now ? KeyState.Pending : KeyState.Verifying;
            DateTimeOffset? until = i + 1 < entries.Length ? DateTimeOffset.FromUnixTimeSeconds(entries[i + 1].ActivatesAt) : null;
            DateTimeOffset? retires = i + 1 < entries.Length ? DateTimeOffset.FromUnixTimeSeconds(RetiresAt(entries[i + 1]) + 1) : null;
            list.Add(new KeyInfo(e.Key.KeyId!, e.Key.Algorithm.Name(), state, DateTimeOffset.FromUnixTimeSeconds(e.ActivatesAt), until, retires));
        }
        return list;
    }

    // The revoked kids left out; the same array when none is held. Never empty: with only revoked keys left, they stay
    // until a reload brings the replacement (their tokens are refused by the revocation state meanwhile).
    private Entry[] WithoutRevoked(Entry[] entries)
    {
        lock (_revoked)
        {
            if (_revoked.Count == 0 || !entries.Any(e => _revoked.Contains(e.Key.KeyId!))) return entries;
            var kept = entries.Where(e => !_revoked.Contains(e.Key.KeyId!)).ToArray();
            return kept.Length == 0 ? entries : kept;
        }
    }

    private static Entry SigningEntry(Entry[] entries, long now)
    {
        for (int i = entries.Length - 1; i >= 0; i--)
            if (entries[i].ActivatesAt <= now) return entries[i];
        return entries[0];
    }

    // Keys this instance already holds keep their objects: the stored copy of a kid is the same key, and callers may
    // hold on to a SigningKey (and its imported RSA/EC handle) across a change.
    private Entry[] KeepKnownKeys(Entry[] parsed)
    {
        var known = _entries.ToDictionary(e => e.Key.KeyId!, e => e.Key, StringComparer.Ordinal);
        return [.. parsed.Select(e => known.TryGetValue(e.Key.KeyId!, out var key) ? e with { Key = key } : e)];
    }

    private void Apply(Entry[] entries)
    {
        lock (_lock)
        {
            _entries = entries;
            _cached = null;
            _version++;
        }
    }

    /// <summary>Algorithm and key count; never key material.</summary>
    public override string ToString() => $"KeyRing({Options.Algorithm.Name()}, {_entries.Length} keys)";

    // Only pending keys (a ring loaded before its first key activates): the oldest one signs.
    internal SigningKey GetSigningKey(DateTimeOffset at) => SigningEntry(_entries, at.ToUnixTimeSeconds()).Key;

    KeySnapshot IKeySource.GetSnapshot() => GetSnapshot();

    private KeySnapshot GetSnapshot()
    {
        long now = _time.GetUtcNow().ToUnixTimeSeconds();
        var cached = _cached;
        if (cached is not null && now >= cached.ValidFrom && now < cached.ValidUntil) return cached.Snapshot;
        var entries = _entries;
        var live = Live(entries, now);
        // The snapshot holds until the next retirement; activations do not change which keys verify.
        long until = long.MaxValue;
        for (int i = 0; i + 1 < entries.Length; i++)
        {
            long retires = RetiresAt(entries[i + 1]);
            if (retires >= now) until = Math.Min(until, retires + 1);
        }
        var snapshot = new KeySnapshot(live.Select(e => e.Key).ToArray());
        _cached = new CachedSnapshot(snapshot, now, until);
        return snapshot;
    }

    // A key stops verifying once its successor has signed for the longest token lifetime plus skew: by then every
    // token the old key signed has expired.
    private long RetiresAt(Entry successor) =>
        successor.ActivatesAt + (long)(Options.MaxTokenLifetime + Options.ClockSkew).TotalSeconds;

    private Entry[] Live(Entry[] entries, long now)
    {
        var live = new List<Entry>(entries.Length);
        for (int i = 0; i < entries.Length; i++)
        {
            bool retired = i + 1 < entries.Length && entries[i + 1].ActivatesAt <= now && now > RetiresAt(entries[i + 1]);
            if (!retired) live.Add(entries[i]);
        }
        return [.. live];
    }

    private string Serialize(Entry[] entries) =>
        JwkSet.Write(entries.Select(e => e.Key), includePrivate: true, writer =>
        {
            writer.WriteStartArray(RingMember);
            foreach (var entry in entries)
            {
                writer.WriteStartObject();
                writer.WriteString("kid", entry.Key.KeyId);
                writer.WriteNumber("activates_at", entry.ActivatesAt);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        });

    private static Entry[] Parse(string stored)
    {
        var set = JwkSet.Parse(stored);
        if (set.Keys.Any(k => !k.CanSign || k.KeyId is null))
            throw new KeyLoadException("malformed_ring", "a key ring holds only private keys with kids");
        var activations = new Dictionary<string, long>(StringComparer.Ordinal);
        try
        {
            using var document = JsonDocument.Parse(Encoding.UTF8.GetBytes(stored));
            if (document.RootElement.TryGetProperty(RingMember, out var ring))
                foreach (var item in ring.EnumerateArray())
                    activations[item.GetProperty("kid").GetString()!] = item.GetProperty("activates_at").GetInt64();
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new KeyLoadException("malformed_ring", "the ring's activation times are malformed", ex);
        }
        // Keys without a recorded activation (a plain JWK set) are treated as active since the epoch, in file order.
        return set.Keys.Select((k, i) => new Entry(k, activations.TryGetValue(k.KeyId!, out long at) ? at : i))
            .OrderBy(e => e.ActivatesAt).ToArray();
    }
}
