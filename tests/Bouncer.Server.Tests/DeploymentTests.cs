using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Bouncer.Stores.Tests;

namespace Bouncer.Server.Tests;

/// <summary>
/// Several Bouncer instances on one Redis or PostgreSQL form one deployment: they share accounts,
/// signing keys and the issuer through the store, and a revocation on one is honoured by the other.
/// Each test gets its own key prefix or schema on the shared private server.
/// </summary>
public abstract class DeploymentTests
{
    protected abstract (string Kind, string Connection) Store { get; }

    /// <summary>Settings beyond the store's, given to every instance.</summary>
    protected virtual (string Key, string? Value)[] MoreSettings => [];

    private (BouncerHost A, BouncerHost B) TwoInstances()
    {
        var prefix = Store.Kind == "redis" ? $"dep{Guid.NewGuid():N}:" : $"dep{Guid.NewGuid():N}"[..30];
        BouncerHost Instance() => new([("Bouncer:Store", Store.Kind), ("Bouncer:Connection", Store.Connection), ("Bouncer:StorePrefix", prefix),
            ("Bouncer:BootstrapAdmin", "root"), .. MoreSettings]);
        return (Instance(), Instance());
    }

    private static async Task<HttpStatusCode> MeAsync(BouncerHost host, HttpRequestMessage request) =>
        (await host.SendAsync(request)).StatusCode;

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what)
    {
        for (var i = 0; i < 100; i++)
        {
            if (await condition()) return;
            await Task.Delay(50);
        }
        Assert.Fail(what + " within 5 s");
    }

    [Fact]
    public async Task TokenAndSession_FromOneInstance_AreValidAtTheOther()
    {
        var (a, b) = TwoInstances();
        using (a) using (b)
        {
            var pair = await a.LoginJwtAsync("alice");
            var session = await b.LoginSessionAsync("bob");

            Assert.Equal(HttpStatusCode.OK, await MeAsync(b, BouncerHost.WithBearer(HttpMethod.Get, "/api/me", pair.AccessToken)));
            Assert.Equal(HttpStatusCode.OK, await MeAsync(a, BouncerHost.WithSession(HttpMethod.Get, "/api/me", session.Cookie)));
            // The account registered through A logs in through B; both publish the same keys and issuer.
            Assert.Equal(HttpStatusCode.OK, (await b.Client().PostAsJsonAsync("/auth/login", new { username = "alice", password = Passwords.Good, mode = "jwt" })).StatusCode);
            Assert.Equal(await a.Client().GetStringAsync("/.well-known/jwks.json"), await b.Client().GetStringAsync("/.well-known/jwks.json"));
            var issuerA = JsonDocument.Parse(await a.Client().GetStringAsync("/.well-known/openid-configuration")).RootElement.GetProperty("issuer").GetString();
            var issuerB = JsonDocument.Parse(await b.Client().GetStringAsync("/.well-known/openid-configuration")).RootElement.GetProperty("issuer").GetString();
            Assert.Equal(issuerA, issuerB);
        }
    }

    [Fact]
    public async Task LogoutEverywhere_OnOneInstance_IsRefusedAtTheOther()
    {
        var (a, b) = TwoInstances();
        using (a) using (b)
        {
            var pair = await a.LoginJwtAsync("carol");
            var session = await a.LoginSessionAsync("carol", register: false);
            Assert.Equal(HttpStatusCode.OK, await MeAsync(b, BouncerHost.WithBearer(HttpMethod.Get, "/api/me", pair.AccessToken)));
            Assert.Equal(HttpStatusCode.OK, await MeAsync(b, BouncerHost.WithSession(HttpMethod.Get, "/api/me", session.Cookie)));   // now in B's near cache

            var logout = await b.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, "/auth/logout-all", pair.AccessToken));
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);

            await WaitForAsync(async () => await MeAsync(a, BouncerHost.WithBearer(HttpMethod.Get, "/api/me", pair.AccessToken)) == HttpStatusCode.Unauthorized, "token refused at A");
            await WaitForAsync(async () => await MeAsync(b, BouncerHost.WithSession(HttpMethod.Get, "/api/me", session.Cookie)) == HttpStatusCode.Unauthorized, "session refused at B despite its cache");
            var response = await a.SendAsync(BouncerHost.WithBearer(HttpMethod.Get, "/api/me", pair.AccessToken));
            await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "token_revoked");
            // A login right after "log out everywhere" works at once, on either instance.
            var fresh = await b.LoginJwtAsync("carol", register: false);
            Assert.Equal(HttpStatusCode.OK, await MeAsync(a, BouncerHost.WithBearer(HttpMethod.Get, "/api/me", fresh.AccessToken)));
        }
    }

    private static string Kid(string token) =>
        JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(token.Split('.')[0])).RootElement.GetProperty("kid").GetString()!;

    [Fact]
    public async Task KeyRevoked_OnOneInstance_ItsTokensAreRefusedAtTheOther_AndBothSignWithTheReplacement()
    {
        var (a, b) = TwoInstances();
        using (a) using (b)
        {
            var admin = await a.LoginJwtAsync("root");
            var victim = await b.LoginJwtAsync("dave");
            var compromised = Kid(victim.AccessToken);
            Assert.Equal(compromised, Kid(admin.AccessToken));
            Assert.Equal(HttpStatusCode.OK, await MeAsync(b, BouncerHost.WithBearer(HttpMethod.Get, "/api/me", victim.AccessToken)));

            using var revoke = await a.SendAsync(BouncerHost.WithBearer(HttpMethod.Post, $"/admin/keys/{compromised}/revoke", admin.AccessToken));
            Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
            var replacement = (await revoke.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("signing_kid").GetString();

            // Announced on the revocation channel: B refuses without waiting for its 30 s key reload.
            await WaitForAsync(async () => await MeAsync(b, BouncerHost.WithBearer(HttpMethod.Get, "/api/me", victim.AccessToken)) == HttpStatusCode.Unauthorized, "the revoked key's token refused at B");
            // B reads the set A saved before announcing: its next token is signed by A's replacement, which A accepts.
            await WaitForAsync(async () => Kid((await b.LoginJwtAsync("dave", register: false)).AccessToken) == replacement, "B signing with the replacement");
            var fresh = await b.LoginJwtAsync("dave", register: false);
            Assert.Equal(HttpStatusCode.OK, await MeAsync(a, BouncerHost.WithBearer(HttpMethod.Get, "/api/me", fresh.AccessToken)));
            Assert.DoesNotContain($"\"{compromised}\"", await b.Client().GetStringAsync("/.well-known/jwks.json"));
        }
    }
}

[Collection(RedisCollection.Name)]
public sealed class RedisDeploymentTests(RedisServer redis) : DeploymentTests
{
    protected override (string Kind, string Connection) Store => ("redis", redis.Configuration);
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresDeploymentTests(PostgresServer postgres) : DeploymentTests
{
    protected override (string Kind, string Connection) Store => ("postgres", postgres.ConnectionString);
}

/// <summary>
/// The instances behind PgBouncer in transaction pooling (review finding 2): every store call through the pooler,
/// LISTEN over <c>Bouncer:ListenConnection</c> straight to PostgreSQL, so logins work and revocations arrive.
/// </summary>
[Collection(PgBouncerCollection.Name)]
public sealed class PgBouncerTransactionPoolingDeploymentTests(PgBouncerServer pgbouncer) : DeploymentTests
{
    protected override (string Kind, string Connection) Store => ("postgres", pgbouncer.TransactionPooled);

    protected override (string Key, string? Value)[] MoreSettings => [("Bouncer:ListenConnection", pgbouncer.Postgres.ConnectionString)];
}

[Collection(RedisClusterCollection.Name)]
public sealed class RedisClusterDeploymentTests(RedisClusterServer cluster) : DeploymentTests
{
    protected override (string Kind, string Connection) Store => ("redis", cluster.Configuration);
}
