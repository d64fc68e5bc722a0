using Bouncer.Dpop;
using Bouncer.Refresh;
using Bouncer.Secrets;
using Bouncer.Tokens;
using Bouncer.Users;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;

namespace Bouncer.Stores.Tests;

/// <summary>
/// Issue 14 finding 1: the private signing keys and the refresh derivation key reach the store only encrypted, with a
/// key the store never holds; a dump of the store cannot mint tokens. Run against every backend that keeps secrets.
/// </summary>
public abstract class SecretsAtRestContract
{
    protected const string KeyA = "dGVzdC1rZXktZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM";   // 32 bytes
    protected const string KeyB = "b3RoZXIta2V5LWVuY3J5cHRpb24ta2V5LTMyLWJ5dGU";   // 32 other bytes

    /// <summary>Points <paramref name="builder"/> at this test's backend (the same data for every call in one test).</summary>
    protected abstract void UseStore(BouncerBuilder builder);

    protected ServiceProvider Engine(string? key, string environment = "Production", Action<BouncerEngineOptions>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IHostEnvironment>(new TestEnvironment(environment));
        var builder = services.AddBouncerCore(o =>
        {
            o.NearCache = null;
            o.KeyEncryption.Key = key;
            configure?.Invoke(o);
        });
        UseStore(builder);
        return services.BuildServiceProvider();
    }

    protected static ISecretStore Raw(IServiceProvider engine) => engine.GetRequiredService<BouncerStores>().Secrets;

    protected static string Mint(IServiceProvider engine) =>
        engine.GetRequiredService<BouncerTokens>().Signer.Issue(new TokenRequest { Subject = "alice", Roles = ["admin"] });

    [Fact]
    public async Task TheStoreHoldsOnlyCiphertext_AndADumpOfItIsNoKeySet()
    {
        await using var engine = Engine(KeyA);
        var token = Mint(engine);
        engine.GetRequiredService<RefreshTokenService>();   // stores the derivation key

        foreach (var name in new[] { "signing-keys", "refresh-derivation-key" })
        {
            var stored = await Raw(engine).GetAsync(name, default);
            Assert.NotNull(stored);
            Assert.StartsWith("bouncer-enc:v1:", stored);
            Assert.DoesNotContain("\"d\"", stored);
            Assert.DoesNotContain("\"k\"", stored);
        }
        // What `bouncer token issue --keys <dump>` would be handed is no key set.
        var dump = (await Raw(engine).GetAsync("signing-keys", default))!;
        Assert.ThrowsAny<Exception>(() => JwkSet.Parse(dump));
        // The engine itself still signs and verifies with what it decrypts.
        Assert.True(engine.GetRequiredService<BouncerTokens>().Verifier.Verify(token).IsValid);
        // The issuer is public: kept as it is.
        Assert.Equal("urn:bouncer", await Raw(engine).GetAsync("issuer", default));
    }

    [Fact]
    public async Task RequireNonce_TheDpopNonceKeyIsStoredSealed_AndSharedByInstancesWithTheSameKey()
    {
        // A plain nonce key in a dump would let anyone mint nonces (RFC 9449 8, 9): it is a secret like the others.
        string nonce;
        await using (var first = Engine(KeyA, configure: o => o.Dpop.RequireNonce = true))
        {
            nonce = first.GetRequiredService<DpopProofValidator>().CurrentNonce()!;
            var stored = await Raw(first).GetAsync("dpop-nonce-key", default);
            Assert.NotNull(stored);
            Assert.StartsWith("bouncer-enc:v1:", stored);
        }
        await using var second = Engine(KeyA, configure: o => o.Dpop.RequireNonce = true);
        Assert.True(second.GetRequiredService<DpopProofValidator>().Nonces.IsValid(nonce));
    }

    [Fact]
    public async Task AnotherInstanceWithTheSameKeyVerifies_OneWithAnotherKeyRefusesToStart_NamingTheSetting()
    {
        string token;
        await using (var first = Engine(KeyA)) token = Mint(first);

        await using (var same = Engine(KeyA))
            Assert.True(same.GetRequiredService<BouncerTokens>().Verifier.Verify(token).IsValid);

        await using var other = Engine(KeyB);
        var error = Assert.Throws<InvalidOperationException>(() => other.GetRequiredService<BouncerTokens>());
        Assert.Contains("Bouncer:KeyEncryption", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task PlainSecretsOfAnOlderVersion_AreRefusedInOneLine_UntilAnOperatorEncryptsThemOnce_AndKeepTheirKeys()
    {
        // What an older version left in the store: the key set and the derivation key in plain text.
        var key = SigningKey.Generate(JwsAlgorithm.ES256);
        var token = new JwsIssuer(key, new IssueOptions { Issuer = "urn:bouncer", Audience = "bouncer" }).Issue(new TokenRequest { Subject = "alice" });
        await using (var old = Engine(KeyA))
        {
            await Raw(old).SetAsync("issuer", "urn:bouncer", default);
            await Raw(old).SetAsync("signing-keys", JwkSet.Create([key]).ToPrivateJson(), default);
            await Raw(old).SetAsync("refresh-derivation-key", "c2VlZC1vZi1hbi1vbGRlci12ZXJzaW9uLTMyLWJ5dGVz", default);
        }

        // Not encrypted by a start: the engine cannot tell an older version's values from planted ones.
        await using (var refused = Engine(KeyA))
        {
            var error = Assert.Throws<InvalidOperationException>(() => refused.GetRequiredService<BouncerTokens>());
            Assert.Contains("bouncer secrets encrypt", error.Message);
            Assert.DoesNotContain('\n', error.Message);
            Assert.Equal(JwkSet.Create([key]).ToPrivateJson(), await Raw(refused).GetAsync("signing-keys", default));   // untouched
        }
        await using (var operatorRun = Engine(KeyA))
        {
            var encrypted = await operatorRun.GetRequiredService<SecretsAtRest>().EncryptPlainSecretsAsync(default);
            Assert.Equal(["signing-keys", "refresh-derivation-key"], encrypted);
            Assert.Empty(await operatorRun.GetRequiredService<SecretsAtRest>().EncryptPlainSecretsAsync(default));   // a second run: nothing left
        }

        await using var upgraded = Engine(KeyA);
        Assert.True(upgraded.GetRequiredService<BouncerTokens>().Verifier.Verify(token).IsValid);
        upgraded.GetRequiredService<RefreshTokenService>();
        Assert.StartsWith("bouncer-enc:v1:", await Raw(upgraded).GetAsync("signing-keys", default));
        Assert.StartsWith("bouncer-enc:v1:", await Raw(upgraded).GetAsync("refresh-derivation-key", default));
    }

    [Fact]
    public async Task APlainKeySetPlantedInTheStore_IsRefused()
    {
        await using (var first = Engine(KeyA))
        {
            Mint(first);
            first.GetRequiredService<RefreshTokenService>();
        }
        // Someone who can write to the store but has no key plants a key set of their own.
        var planted = JwkSet.Create([SigningKey.Generate(JwsAlgorithm.HS256)]).ToPrivateJson();
        await using var engine = Engine(KeyA);
        await Raw(engine).SetAsync("signing-keys", planted, default);

        var error = Assert.Throws<InvalidOperationException>(() => engine.GetRequiredService<BouncerTokens>());
        Assert.Contains("plain text", error.Message);
        // And the operator's encryption refuses to seal a plain value beside sealed ones.
        await Assert.ThrowsAsync<InvalidOperationException>(() => engine.GetRequiredService<SecretsAtRest>().EncryptPlainSecretsAsync(default));
        Assert.Equal(planted, await Raw(engine).GetAsync("signing-keys", default));
    }

    [Fact]
    public async Task EverySecretReplacedByPlainValues_LooksLikeAnOlderVersion_AndIsStillRefusedAtStart()
    {
        await using (var first = Engine(KeyA))
        {
            Mint(first);
            first.GetRequiredService<RefreshTokenService>();
        }
        // Write access without the key: every sealed secret replaced by a plain value of the attacker's, so nothing
        // sealed is left to give the planting away. A start that encrypted plain values would seal and trust them.
        var attackerKey = SigningKey.Generate(JwsAlgorithm.ES256);
        await using var engine = Engine(KeyA);
        await Raw(engine).SetAsync("signing-keys", JwkSet.Create([attackerKey]).ToPrivateJson(), default);
        await Raw(engine).SetAsync("refresh-derivation-key", "YXR0YWNrZXItY2hvc2VuLWRlcml2YXRpb24ta2V5LTMy", default);
        await Raw(engine).SetAsync("revocation-feed-key", "YXR0YWNrZXItY2hvc2VuLWZlZWQta2V5LTMyLWJ5dGVz", default);

        var error = Assert.Throws<InvalidOperationException>(() => engine.GetRequiredService<BouncerTokens>());
        Assert.Contains("plain text", error.Message);
        // Nothing was sealed on the attacker's behalf.
        Assert.DoesNotContain("bouncer-enc:", await Raw(engine).GetAsync("signing-keys", default));
    }

    private sealed class TestEnvironment(string name) : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = name;
        public string ApplicationName { get; set; } = "Bouncer.Stores.Tests";
        public string ContentRootPath { get; set; } = AppContext.BaseDirectory;
        public IFileProvider ContentRootFileProvider { get; set; } = new NullFileProvider();
    }
}
