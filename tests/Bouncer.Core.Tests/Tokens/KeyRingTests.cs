using System.Text.Json.Nodes;
using Bouncer.Tokens;

namespace Bouncer.Tests.Tokens;

public sealed class KeyRingTests
{
    private class MemoryKeyStore : IKeyStore
    {
        public string? Value;
        public int Saves;

        public virtual async ValueTask<bool> ReplaceAsync(string? expected, string privateJwkSet, CancellationToken cancellationToken)
        {
            if (Value != expected) return false;
            await SaveAsync(privateJwkSet, cancellationToken);
            return true;
        }

        public ValueTask<string?> LoadAsync(CancellationToken cancellationToken) => ValueTask.FromResult(Value);

        public ValueTask SaveAsync(string privateJwkSet, CancellationToken cancellationToken)
        {
            Value = privateJwkSet;
            Saves++;
            return ValueTask.CompletedTask;
        }
    }

    private readonly ManualClock _clock = new();
    private readonly MemoryKeyStore _store = new();

    private static readonly KeyRingOptions RingOptions = new()
    {
        Algorithm = JwsAlgorithm.ES256,
        PrePublicationDelay = TimeSpan.FromHours(1),
        MaxTokenLifetime = TimeSpan.FromHours(1),
        ClockSkew = TimeSpan.FromSeconds(30),
    };

    private static IssueOptions IssueOptions => new() { Issuer = TokenFactory.Issuer, Audience = TokenFactory.Audience };

    private static List<string> Kids(string jwks) =>
        JsonNode.Parse(jwks)!["keys"]!.AsArray().Select(k => (string)k!["kid"]!).ToList();

    private static HashSet<string> StoredKids(MemoryKeyStore store) =>
        [.. JsonNode.Parse(store.Value!)!["keys"]!.AsArray().Select(k => (string)k!["kid"]!)];

    [Fact]
    public async Task Rotate_OnTwoInstances_KeepsBothNewKeys()
    {
        // Instance B has not reloaded since A rotated: its own rotation must build on the stored set, not its copy.
        var a = await KeyRing.LoadOrCreateAsync(_store, RingOptions, _clock);
        var b = await KeyRing.LoadOrCreateAsync(_store, RingOptions, _clock);
        var first = a.CurrentSigningKey.KeyId!;

        var fromA = await a.RotateAsync();
        var fromB = await b.RotateAsync();

        Assert.Equal(new HashSet<string> { first, fromA.KeyId!, fromB.KeyId! }, StoredKids(_store));
        Assert.Contains(fromA.KeyId!, Kids(b.GetPublicJwks()));   // B now holds what it saved, A's key included
        await a.ReloadAsync();
        Assert.Equal(3, Kids(a.GetPublicJwks()).Count);
    }

    [Fact]
    public async Task Rotate_ManyAtOnceOnOneRing_KeepsEveryKey()
    {
        // The test store compares and saves in two steps, like a file: the ring itself must not interleave changes.
        var ring = await KeyRing.LoadOrCreateAsync(_store, RingOptions, _clock);
        var added = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => ring.RotateAsync())));

        var stored = StoredKids(_store);
        Assert.Equal(9, stored.Count);
        Assert.All(added, k => Assert.Contains(k.KeyId!, stored));
        Assert.Equal(stored, Kids(ring.GetPublicJwks()).ToHashSet());
    }

    [Fact]
    public async Task Prune_OnAStaleInstance_KeepsAnotherInstancesFreshKey()
    {
        var a = await KeyRing.LoadOrCreateAsync(_store, RingOptions, _clock);
        var b = await KeyRing.LoadOrCreateAsync(_store, RingOptions, _clock);
        var first = a.CurrentSigningKey.KeyId!;
        var second = await a.RotateAsync();                   // signs from +1 h
        await b.ReloadAsync();                                // b holds [first, second]
        _clock.Advance(TimeSpan.FromMinutes(90));
        var third = await a.RotateAsync();                    // b never sees this one
        _clock.Advance(TimeSpan.FromMinutes(40));             // first retires (second has signed > 1 h + skew)

        var dropped = await b.PruneAsync();

        Assert.Equal(1, dropped);
        Assert.Equal(new HashSet<string> { second.KeyId!, third.KeyId! }, StoredKids(_store));
        Assert.DoesNotContain(first, Kids(b.GetPublicJwks()));
    }

    [Fact]
    public async Task Rotate_WhenAnotherWriterWinsTheRace_RetriesOnTheirSet()
    {
        var racing = new RacingKeyStore();
        var ring = await KeyRing.LoadOrCreateAsync(racing, RingOptions, _clock);
        var other = await KeyRing.LoadOrCreateAsync(racing, RingOptions, _clock);
        // The first compare-and-set of `ring` loses: `other` rotates between its read and its write.
        racing.BeforeFirstReplace = () => other.RotateAsync().GetAwaiter().GetResult();

        var mine = await ring.RotateAsync();

        Assert.Equal(3, StoredKids(racing).Count);
        Assert.Contains(mine.KeyId!, StoredKids(racing));
        Assert.True(racing.Replaces >= 3);   // ring's lost attempt, other's win, ring's retry
    }

    private class RacingKeyStore : MemoryKeyStore
    {
        public Action? BeforeFirstReplace;
        public int Replaces;

        public override async ValueTask<bool> ReplaceAsync(string? expected, string privateJwkSet, CancellationToken cancellationToken)
        {
            Replaces++;
            if (Interlocked.Exchange(ref BeforeFirstReplace, null) is { } interloper) interloper();
            if (Value != expected) return false;
            await SaveAsync(privateJwkSet, cancellationToken);
            return true;
        }
    }

    [Fact]
    public async Task LoadOrCreate_EmptyStore_CreatesAndSaves()
    {
        var ring = await KeyRing.LoadOrCreateAsync(_store, RingOptions, _clock);
        Assert.Equal(1, _store.Saves);
        Assert.Equal([ring.CurrentSigningKey.KeyId!], Kids(ring.GetPublicJwks()));
    }

    [Fact]
    public async Task Rotate_NewKey_IsPublishedBeforeItSigns()
    {
        var ring = await KeyRing.LoadOrCreateAsync(_store, RingOptions, _clock);
        var first = ring.CurrentSigningKey;
        var second = await ring.RotateAsync();

        Assert.Contains(second.KeyId!, Kids(ring.GetPublicJwks()));
        Assert.Same(first, ring.CurrentSigningKey);
        _clock.Advance(TimeSpan.FromMinutes(59));
        Assert.Same(first, ring.CurrentSigningKey);
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Same(second, ring.CurrentSigningKey);
    }

    [Fact]
    public async Task Rotate_OldKey_VerifiesUntilItsLastTokenExpired()
    {
        var ring = await KeyRing.LoadOrCreateAsync(_store, RingOptions, _clock);
        var verifier = new JwsVerifier(ring, TokenFactory.Options(), _clock);
        var issuer = new JwsIssuer(ring, IssueOptions, _clock);
        var first = ring.CurrentSigningKey;
        await ring.RotateAsync();

        // The last token the old key signs, just before the new key activates, with the longest lifetime.
        _clock.Advance(TimeSpan.FromHours(1) - TimeSpan.FromSeconds(1));
        string lastOld = issuer.Issue(new TokenRequest { Subject = "u", Lifetime = TimeSpan.FromHours(1) });
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.NotSame(first, ring.CurrentSigningKey);

        // lastOld expires at activation + 1 h - 1 s; with 30 s skew it is accepted until activation + 1 h + 29 s.
        _clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(28));
        Assert.True(verifier.Verify(lastOld).IsValid);
        Assert.Contains(first.KeyId!, Kids(ring.GetPublicJwks()));

        // The old key leaves once max lifetime + skew have passed since its successor took over.
        _clock.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(VerifyFailure.UnknownKid, verifier.Verify(lastOld).Failure);
        Assert.DoesNotContain(first.KeyId!, Kids(ring.GetPublicJwks()));
        Assert.Equal(1, await ring.PruneAsync());
    }

    [Fact]
    public async Task LoadOrCreate_SavedRing_RestoresKeysAndActivation()
    {
        var ring = await KeyRing.LoadOrCreateAsync(_store, RingOptions, _clock);
        var first = ring.CurrentSigningKey;
        var second = await ring.RotateAsync();

        var reloaded = await KeyRing.LoadOrCreateAsync(_store, RingOptions, _clock);
        Assert.Equal(first.KeyId, reloaded.CurrentSigningKey.KeyId);
        _clock.Advance(TimeSpan.FromHours(1));
        Assert.Equal(second.KeyId, reloaded.CurrentSigningKey.KeyId);
    }

    [Fact]
    public async Task StoredRing_IsAPrivateJwkSetTheVerifierLoads()
    {
        var ring = await KeyRing.LoadOrCreateAsync(_store, RingOptions, _clock);
        var set = JwkSet.Parse(_store.Value!);
        Assert.True(set.Keys[0].CanSign);
        string token = new JwsIssuer(ring, IssueOptions, _clock).Issue(new TokenRequest { Subject = "u" });
        Assert.True(new JwsVerifier(set, TokenFactory.Options(), _clock).Verify(token).IsValid);
    }

    [Fact]
    public async Task GetPublicJwks_HoldsNoPrivateMaterial()
    {
        var ring = await KeyRing.LoadOrCreateAsync(_store, RingOptions, _clock);
        await ring.RotateAsync();
        foreach (var key in JsonNode.Parse(ring.GetPublicJwks())!["keys"]!.AsArray())
            Assert.False(key!.AsObject().ContainsKey("d"));
        Assert.DoesNotContain("\"d\"", ring.ToString());
    }

    [Fact]
    public async Task Issuer_RingMaxLifetimeExceedsRing_Throws()
    {
        var ring = await KeyRing.LoadOrCreateAsync(_store, RingOptions, _clock);
        Assert.Throws<ArgumentException>(() => new JwsIssuer(ring,
            new IssueOptions { Issuer = "i", Audience = "a", MaxLifetime = TimeSpan.FromHours(2) }, _clock));
    }

    [Fact]
    public async Task FileKeyStore_Save_WritesOwnerOnlyFileAndRoundTrips()
    {
        string dir = Directory.CreateTempSubdirectory("bouncer-keys").FullName;
        try
        {
            var store = new FileKeyStore(Path.Combine(dir, "keys.json"));
            Assert.Null(await store.LoadAsync(default));
            var ring = await KeyRing.LoadOrCreateAsync(store, RingOptions, _clock);
            await ring.RotateAsync();
            if (!OperatingSystem.IsWindows())
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.Path));
            var reloaded = await KeyRing.LoadOrCreateAsync(store, RingOptions, _clock);
            Assert.Equal(ring.CurrentSigningKey.KeyId, reloaded.CurrentSigningKey.KeyId);
            Assert.Single(Directory.GetFiles(dir));
            Assert.DoesNotContain("{", store.ToString());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
