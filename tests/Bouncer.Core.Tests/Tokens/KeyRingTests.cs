using System.Text.Json.Nodes;
using Bouncer.Tokens;

namespace Bouncer.Tests.Tokens;

public sealed class KeyRingTests
{
    private sealed class MemoryKeyStore : IKeyStore
    {
        public string? Value;
        public int Saves;

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
